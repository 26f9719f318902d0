// The upstream client (undici) against raw TCP servers on loopback that answer byte for byte as scripted:
// chunked and close-delimited bodies, keep-alive reuse, malformed answers, closes mid-response, silence,
// and the in-flight body budget the answers are held in.
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { after, test } from "node:test";
import { BodyBudget } from "./body.js";
import { Upstream, UpstreamError, type UpstreamOptions } from "./upstream.js";

const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

/** A server that calls onRequest with each complete request head (bodies are read by Content-Length). */
async function raw(
  onRequest: (socket: Socket, head: string, body: Buffer, n: number) => void,
): Promise<{ url: string; server: Server; connections: () => number }> {
  let connections = 0;
  let n = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
    let buf = Buffer.alloc(0);
    socket.on("data", (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      for (;;) {
        const end = buf.indexOf("\r\n\r\n");
        if (end < 0) return;
        const head = buf.subarray(0, end).toString("latin1");
        const cl = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (buf.length < end + 4 + cl) return;
        const body = buf.subarray(end + 4, end + 4 + cl);
        buf = buf.subarray(end + 4 + cl);
        onRequest(socket, head, body, n++);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  closers.push(
    () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    server,
    connections: () => connections,
  };
}

function client(url: string, opts: Partial<UpstreamOptions> = {}): Upstream {
  const u = new Upstream(url, {
    connections: 8,
    timeoutMs: 2_000,
    budget: new BodyBudget(64 << 20),
    limits: { maxBytes: 32 << 20, maxChunks: 100_000 },
    ...opts,
  });
  closers.push(() => u.close());
  return u;
}

const POST = (u: Upstream, body = "{}", timeoutMs?: number) =>
  u.request(
    { method: "POST", path: "/x", headers: ["content-type", "text/plain"], body: Buffer.from(body) },
    timeoutMs,
  );
const GET = (u: Upstream, path: string, timeoutMs?: number) =>
  u.request({ method: "GET", path, headers: [], body: null }, timeoutMs);
/** undici hands a connection out again one event-loop turn after its answer (a request sent sooner opens another). */
const turn = () => new Promise((r) => setTimeout(r, 5));

test("keep-alive: sequential requests share one socket; the request arrives intact", async () => {
  const seen: string[] = [];
  const s = await raw((socket, head, body) => {
    seen.push(`${head.split("\r\n")[0]} ${body.toString()}`);
    socket.write(
      `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body.toString()}`,
    );
  });
  const u = client(s.url);
  for (let i = 0; i < 5; i++) {
    const r = await POST(u, `body-${i}`);
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), `body-${i}`);
    assert.equal(r.headers["content-type"], "text/plain");
    r.release();
    await turn();
  }
  assert.equal(s.connections(), 1);
  assert.equal(seen[4], "POST /x HTTP/1.1 body-4");
});

test("a chunked answer is decoded, also when it arrives in pieces", async () => {
  const s = await raw((socket) => {
    const parts = [
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n",
      '{"a"',
      "\r\n3;x=y\r\n:1}\r\n",
      "0\r\n\r\n",
    ];
    parts.forEach((p, i) => setTimeout(() => socket.write(p), i * 10));
  });
  const u = client(s.url);
  const r = await POST(u);
  assert.equal(r.body.toString(), '{"a":1}');
  await turn();
  const again = await POST(u);
  assert.equal(again.body.toString(), '{"a":1}');
  assert.equal(s.connections(), 1, "the socket is reused after a chunked answer");
});

test("a body delimited by the end of the connection is read to the end; the socket is not reused", async () => {
  const s = await raw((socket) => socket.end("HTTP/1.1 200 OK\r\n\r\nuntil close"));
  const u = client(s.url);
  assert.equal((await POST(u)).body.toString(), "until close");
  assert.equal((await POST(u)).body.toString(), "until close");
  assert.equal(s.connections(), 2);
});

test("interim 1xx answers are skipped; 204 and HEAD have no body", async () => {
  const s = await raw((socket, head) => {
    if (head.startsWith("HEAD")) socket.write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n");
    else if (head.includes("/empty")) socket.write("HTTP/1.1 204 No Content\r\n\r\n");
    else
      socket.write(
        "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
      );
  });
  const u = client(s.url);
  assert.equal((await POST(u)).body.toString(), "ok");
  await turn();
  const head = await u.request({ method: "HEAD", path: "/", headers: [], body: null });
  assert.equal(head.body.length, 0);
  assert.equal(head.headers["content-length"], "10");
  await turn();
  const empty = await GET(u, "/empty");
  assert.equal(empty.status, 204);
  assert.equal(empty.body.length, 0);
});

test("malformed answers fail as unreachable", async () => {
  const answers = [
    "HTTP/1.1 abc\r\n\r\n",
    "garbage garbage\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    "HTTP/1.1 200 OK\r\nX-A: a\nb\r\nContent-Length: 0\r\n\r\n",
  ];
  const s = await raw((socket, _h, _b, n) => socket.write(answers[n] as string));
  const u = client(s.url);
  for (let i = 0; i < answers.length; i++) {
    await assert.rejects(POST(u), (e: UpstreamError) => {
      assert.equal(e.kind, "unreachable", `answer ${i}: ${e.message}`);
      return true;
    });
  }
});

test("an upstream that closes mid-response fails as unreachable", async () => {
  const s = await raw((socket) => socket.end("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part"));
  await assert.rejects(POST(client(s.url)), (e: UpstreamError) => e.kind === "unreachable");
});

test("a refused connection fails as unreachable; a silent upstream as timeout", async () => {
  const gone = await raw(() => undefined);
  const url = gone.url;
  await new Promise<void>((r) => gone.server.close(() => r()));
  await assert.rejects(
    POST(client(url)),
    (e: UpstreamError) => e.kind === "unreachable" && /ECONNREFUSED/.test(e.message),
  );

  const silent = await raw(() => undefined);
  const u = client(silent.url);
  const t0 = Date.now();
  await assert.rejects(
    POST(u, "{}", 200),
    (e: UpstreamError) => e.kind === "timeout" && /within 200 ms/.test(e.message),
  );
  assert.ok(Date.now() - t0 < 1_500);
});

test("a trickling body resets the timeout per chunk; a stall mid-body times out", async () => {
  const s = await raw((socket, head) => {
    socket.write("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
    if (head.includes("/stall")) {
      socket.write("ab");
      return;
    }
    "hello".split("").forEach((ch, i) => setTimeout(() => socket.write(ch), (i + 1) * 100));
  });
  const u = client(s.url);
  const ok = await GET(u, "/", 250);
  assert.equal(ok.body.toString(), "hello");
  await assert.rejects(GET(u, "/stall", 250), (e: UpstreamError) => e.kind === "timeout");
});

test("a kept-alive socket the server closed meanwhile is retried once on a new one", async () => {
  const s = await raw((socket, _h, _b, n) => {
    // the first answer claims keep-alive, then the server drops the socket as the next request arrives
    if (n === 1) socket.destroy();
    else socket.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  });
  const u = client(s.url);
  assert.equal((await POST(u)).body.toString(), "ok");
  await turn();
  assert.equal((await POST(u)).body.toString(), "ok");
  assert.equal(s.connections(), 2);
});

test("answers are held in the body budget until released; over the size limit or the budget they fail", async () => {
  const big = Buffer.alloc(5 * 1024 * 1024, "x");
  const s = await raw((socket, _h, body) => {
    socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
    socket.write(body);
  });
  const budget = new BodyBudget(8 << 20);
  const u = client(s.url, { budget, timeoutMs: 10_000 });
  const r = await u.request({ method: "POST", path: "/", headers: [], body: big });
  assert.ok(r.body.equals(big));
  assert.equal(budget.inUse, big.length, "the answer is counted while it is held");
  await assert.rejects(
    u.request({ method: "POST", path: "/", headers: [], body: big }),
    (e: UpstreamError) => e.kind === "overloaded" && /no room for the answer/.test(e.message),
  );
  assert.equal(budget.inUse, big.length, "a refused answer gives back what it took");
  r.release();
  assert.equal(budget.inUse, 0);
  const again = await u.request({ method: "POST", path: "/", headers: [], body: big });
  again.release();

  const small = client(s.url, { limits: { maxBytes: 1024, maxChunks: 100 } });
  await assert.rejects(
    small.request({ method: "POST", path: "/", headers: [], body: big.subarray(0, 2048) }),
    (e: UpstreamError) => e.kind === "unreachable" && /limit/.test(e.message),
  );
});

test("more concurrent requests than connections wait their turn", async () => {
  const s = await raw((socket, _h, body) =>
    setTimeout(
      () => socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body.toString()}`),
      20,
    ),
  );
  const u = client(s.url, { connections: 2 });
  const all = await Promise.all(Array.from({ length: 10 }, (_, i) => POST(u, `r${i}`)));
  assert.deepEqual(
    all.map((r) => r.body.toString()),
    Array.from({ length: 10 }, (_, i) => `r${i}`),
  );
  assert.equal(s.connections(), 2);
});
