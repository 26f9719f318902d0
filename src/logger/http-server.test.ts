// The raw HTTP/1.1 server against raw TCP clients on loopback: pipelining, Connection: close, HTTP/1.0,
// chunked and Expect: 100-continue requests, limits, refused framing, slow clients.
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { after, test } from "node:test";
import { HttpServer, type Handler } from "./http-server.js";

const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

/** Echoes "METHOD target body" back, after delayMs when the target says /slow. */
const echo: Handler = (head, body, conn) => {
  const answer = () =>
    conn.respond(200, "content-type: text/plain\r\n", `${head.method} ${head.target} ${body.toString()}`);
  if (head.path === "/slow") setTimeout(answer, 50);
  else answer();
};

async function server(handler: Handler = echo, opts = {}): Promise<{ port: number; http: HttpServer }> {
  const http = new HttpServer(handler, opts);
  const url = await http.listen(0, "127.0.0.1");
  closers.push(() => http.close());
  return { port: Number(new URL(url).port), http };
}

/** Opens a socket, writes `data` (string or pieces with pauses), collects what comes back until close or idle. */
async function exchange(port: number, data: string | string[], idleMs = 300): Promise<string> {
  const socket: Socket = connect(port, "127.0.0.1");
  let out = "";
  socket.on("data", (c: Buffer) => (out += c.toString("latin1")));
  const closed = new Promise<void>((r) => socket.on("close", () => r()));
  socket.on("error", () => undefined);
  for (const piece of typeof data === "string" ? [data] : data) {
    socket.write(piece);
    await new Promise((r) => setTimeout(r, 20));
  }
  let last = -1;
  while (out.length !== last) {
    last = out.length;
    const t = await Promise.race([
      closed.then(() => "closed"),
      new Promise((r) => setTimeout(() => r("idle"), idleMs)),
    ]);
    if (t === "closed") break;
  }
  socket.destroy();
  return out;
}

function bodies(raw: string): string[] {
  const out: string[] = [];
  let rest = raw;
  for (;;) {
    const end = rest.indexOf("\r\n\r\n");
    if (end < 0) return out;
    const cl = Number(/content-length: (\d+)/i.exec(rest.slice(0, end))?.[1] ?? 0);
    out.push(rest.slice(end + 4, end + 4 + cl));
    rest = rest.slice(end + 4 + cl);
  }
}

test("pipelined requests are answered in order, also when the first is slower", async () => {
  const { port } = await server();
  const req = (path: string, body: string) =>
    `POST ${path} HTTP/1.1\r\nhost: x\r\ncontent-length: ${body.length}\r\n\r\n${body}`;
  const out = await exchange(port, req("/slow", "one") + req("/a", "two") + req("/b", "three"));
  assert.deepEqual(bodies(out), ["POST /slow one", "POST /a two", "POST /b three"]);
});

test("Connection: close and HTTP/1.0 close after the answer; HTTP/1.0 keep-alive stays open", async () => {
  const { port } = await server();
  const closeOut = await exchange(
    port,
    "GET /a HTTP/1.1\r\nconnection: close\r\n\r\nGET /b HTTP/1.1\r\n\r\n",
    2_000,
  );
  assert.deepEqual(bodies(closeOut), ["GET /a "], "nothing is read after Connection: close");
  assert.match(closeOut, /connection: close/);
  const old = await exchange(port, "GET /a HTTP/1.0\r\n\r\n", 2_000);
  assert.match(old, /^HTTP\/1\.1 200 OK/);
  assert.match(old, /connection: close/);
  const oldKa = await exchange(
    port,
    "GET /a HTTP/1.0\r\nconnection: keep-alive\r\n\r\nGET /b HTTP/1.0\r\n\r\n",
    2_000,
  );
  assert.deepEqual(bodies(oldKa), ["GET /a ", "GET /b "]);
});

test("bodies split across reads, chunked bodies, and Expect: 100-continue", async () => {
  const { port } = await server();
  const split = await exchange(port, [
    "POST /a HTTP/1.1\r\nhost: x\r\ncont",
    "ent-length: 11\r\n\r\nhello",
    " world",
  ]);
  assert.deepEqual(bodies(split), ["POST /a hello world"]);
  const chunked = await exchange(port, [
    "POST /c HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhel",
    "lo\r\n6\r\n world\r\n0\r\n\r\n",
  ]);
  assert.deepEqual(bodies(chunked), ["POST /c hello world"]);
  const expect = await exchange(port, [
    "POST /e HTTP/1.1\r\nexpect: 100-continue\r\ncontent-length: 2\r\n\r\n",
    "hi",
  ]);
  assert.match(expect, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK/);
  assert.deepEqual(bodies(expect).slice(-1), ["POST /e hi"]);
});

test("refused framing and limits get a clear status and a closed connection", async () => {
  const { port } = await server(echo, { maxBodyBytes: 100, maxHeadBytes: 1024 });
  const cases: [string, RegExp][] = [
    ["POST / HTTP/1.1\r\ncontent-length: 1\r\ntransfer-encoding: chunked\r\n\r\n", /^HTTP\/1\.1 400 /],
    ["POST / HTTP/1.1\r\ncontent-length: 101\r\n\r\n", /^HTTP\/1\.1 413 /],
    [
      "POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n" + "10\r\n" + "x".repeat(16) + "\r\n",
      /^$|^HTTP\/1\.1 (413|200) /,
    ],
    [`GET / HTTP/1.1\r\nx: ${"a".repeat(2000)}\r\n\r\n`, /^HTTP\/1\.1 431 /],
    ["GET / HTTP/1.1\r\nx: 1\r\n folded\r\n\r\n", /^HTTP\/1\.1 400 /],
    ["POST / HTTP/1.1\r\ntransfer-encoding: gzip\r\n\r\n", /^HTTP\/1\.1 501 /],
    ["POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\nxyz\r\n", /^HTTP\/1\.1 400 /],
  ];
  for (const [data, want] of cases) {
    const out = await exchange(port, data, 2_000);
    assert.match(out, want, JSON.stringify(data.slice(0, 60)));
    if (out !== "") assert.match(out, /connection: close/);
  }
  const tooBigChunked = await exchange(
    port,
    "POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n" +
      ("20\r\n" + "x".repeat(32) + "\r\n").repeat(4) +
      "0\r\n\r\n",
    2_000,
  );
  assert.match(tooBigChunked, /^HTTP\/1\.1 413 /);
});

test("a request that never completes gets 408; an idle keep-alive connection is closed", async () => {
  const { port } = await server(echo, {
    headersTimeoutMs: 300,
    requestTimeoutMs: 300,
    keepAliveTimeoutMs: 300,
  });
  const partial = await exchange(port, "POST / HTTP/1.1\r\ncontent-length: 10\r\n\r\nabc", 3_000);
  assert.match(partial, /^HTTP\/1\.1 408 /);
  const socket = connect(port, "127.0.0.1");
  const closedAt = await new Promise<number>((r) => socket.on("close", () => r(Date.now())));
  assert.ok(closedAt > 0);
});

test("a slow reader gets the whole large answer; the handler sees clients that left", async () => {
  const big = Buffer.alloc(8 * 1024 * 1024, "y");
  let sawClosed: boolean | undefined;
  const { port } = await server((head, _body, conn) => {
    if (head.path === "/big") return conn.respond(200, "", big);
    setTimeout(() => {
      sawClosed = conn.closed;
      conn.respond(200, "", "late");
    }, 200);
  });
  const socket = connect(port, "127.0.0.1");
  socket.write("GET /big HTTP/1.1\r\n\r\n");
  socket.pause();
  await new Promise((r) => setTimeout(r, 300));
  let got = 0;
  socket.on("data", (c: Buffer) => (got += c.length));
  socket.resume();
  await new Promise<void>((r) => {
    const check = setInterval(() => {
      if (got >= big.length) {
        clearInterval(check);
        r();
      }
    }, 20);
  });
  socket.destroy();
  assert.ok(got > big.length);

  const leaving = connect(port, "127.0.0.1");
  leaving.write("GET /wait HTTP/1.1\r\n\r\n");
  await new Promise((r) => setTimeout(r, 50));
  leaving.destroy();
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(sawClosed, true);
});
