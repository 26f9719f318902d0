// The upstream client against raw TCP servers on loopback that answer byte for byte as scripted:
// chunked and close-delimited bodies, keep-alive reuse, malformed answers, closes mid-response, silence.
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { after, test } from "node:test";
import { Upstream, UpstreamError } from "./upstream.js";

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

function client(url: string, opts = {}): Upstream {
  const u = new Upstream(url, opts);
  closers.push(() => u.close());
  return u;
}

const POST = (u: Upstream, body = "{}") =>
  u.request(
    "POST",
    `POST /x HTTP/1.1\r\nhost: ${u.host}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n`,
    Buffer.from(body),
    2_000,
  );

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
    assert.deepEqual(r.headers.slice(0, 2), ["content-type", "text/plain"]);
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

test("interim 100 Continue answers are skipped; 204 and HEAD have no body", async () => {
  const s = await raw((socket, head) => {
    if (head.startsWith("HEAD")) socket.write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n");
    else if (head.includes("/empty")) socket.write("HTTP/1.1 204 No Content\r\n\r\n");
    else socket.write("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  });
  const u = client(s.url);
  assert.equal((await POST(u)).body.toString(), "ok");
  const head = await u.request("HEAD", `HEAD / HTTP/1.1\r\nhost: x\r\n\r\n`, undefined, 2_000);
  assert.equal(head.body.length, 0);
  const empty = await u.request("GET", `GET /empty HTTP/1.1\r\nhost: x\r\n\r\n`, undefined, 2_000);
  assert.equal(empty.status, 204);
  assert.equal(s.connections(), 1);
});

test("malformed answers fail as unreachable and the socket is dropped", async () => {
  const answers = [
    "HTTP/1.1 abc\r\n\r\n",
    "garbage garbage\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
  ];
  const s = await raw((socket, _h, _b, n) => socket.write(answers[n] as string));
  const u = client(s.url);
  for (let i = 0; i < answers.length; i++) {
    await assert.rejects(POST(u), (e: UpstreamError) => {
      assert.equal(e.kind, "unreachable");
      assert.match(e.message, /invalid HTTP response/);
      return true;
    });
  }
  assert.equal(s.connections(), answers.length);
});

test("an upstream that closes mid-response fails as unreachable", async () => {
  const s = await raw((socket) => socket.end("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part"));
  await assert.rejects(POST(client(s.url)), (e: UpstreamError) => {
    assert.equal(e.kind, "unreachable");
    assert.match(e.message, /middle of the response/);
    return true;
  });
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
    u.request("POST", "POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n", undefined, 200),
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
  const ok = await u.request("GET", "GET / HTTP/1.1\r\nhost: x\r\n\r\n", undefined, 250);
  assert.equal(ok.body.toString(), "hello");
  await assert.rejects(
    u.request("GET", "GET /stall HTTP/1.1\r\nhost: x\r\n\r\n", undefined, 250),
    (e: UpstreamError) => e.kind === "timeout",
  );
});

test("a kept-alive socket the server closed meanwhile is retried once on a new one", async () => {
  const s = await raw((socket, _h, _b, n) => {
    // the first answer claims keep-alive, then the server drops the socket as the next request arrives
    if (n === 1) socket.destroy();
    else socket.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  });
  const u = client(s.url);
  assert.equal((await POST(u)).body.toString(), "ok");
  assert.equal((await POST(u)).body.toString(), "ok");
  assert.equal(s.connections(), 2);
});

test("large bodies both ways, and answers over the size limit fail", async () => {
  const big = Buffer.alloc(5 * 1024 * 1024, "x");
  const s = await raw((socket, _h, body) => {
    socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
    socket.write(body);
  });
  const u = client(s.url);
  const r = await u.request(
    "POST",
    `POST / HTTP/1.1\r\nhost: x\r\ncontent-length: ${big.length}\r\n\r\n`,
    big,
    10_000,
  );
  assert.equal(r.body.length, big.length);
  assert.ok(r.body.equals(big));
  const small = client(s.url, { maxResponseBytes: 1024 });
  await assert.rejects(
    small.request(
      "POST",
      `POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 2048\r\n\r\n`,
      big.subarray(0, 2048),
      2_000,
    ),
    (e: UpstreamError) => e.kind === "unreachable" && /limit/.test(e.message),
  );
});

test("more concurrent requests than sockets wait their turn", async () => {
  const s = await raw((socket, _h, body) =>
    setTimeout(
      () => socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body.toString()}`),
      20,
    ),
  );
  const u = client(s.url, { maxConnections: 2 });
  const all = await Promise.all(Array.from({ length: 10 }, (_, i) => POST(u, `r${i}`)));
  assert.deepEqual(
    all.map((r) => r.body.toString()),
    Array.from({ length: 10 }, (_, i) => `r${i}`),
  );
  assert.equal(s.connections(), 2);
});
