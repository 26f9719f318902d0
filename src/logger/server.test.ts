// Request smuggling: a raw TCP client sends what a lenient upstream (Python's h11 / http.server) would
// split into two requests; the logger must refuse it (400) and send nothing upstream. The upstream here
// is a raw TCP server that records every byte it receives and answers each head it sees.
import assert from "node:assert/strict";
import { connect, createServer, type Socket } from "node:net";
import { after, test } from "node:test";
import { createLogger } from "../platform/log.js";
import { createRegistry } from "../platform/metrics.js";
import { createEventMetrics } from "../events/metrics.js";
import { Spool } from "../events/spool.js";
import { metricValue, tmp } from "../testing/procs.js";
import { createLoggerMetrics } from "./metrics.js";
import { LoggerProxy } from "./proxy.js";

const log = createLogger({ name: "test", level: "silent" });
const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

/** Records the bytes it gets; answers 200 to every blank line it sees, however the line ends. */
async function lenientUpstream(): Promise<{ url: string; received: () => string }> {
  let received = "";
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
    socket.on("data", (c: Buffer) => {
      const text = c.toString("latin1");
      received += text;
      for (const _ of text.matchAll(/\r?\n\r?\n/g))
        socket.write("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}");
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
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, received: () => received };
}

async function proxy(upstream: string) {
  const spool = await Spool.open({
    dir: tmp("spool"),
    maxBytes: 1 << 24,
    syncIntervalMs: 50,
    log,
    mode: "write-through",
  });
  const registry = createRegistry("logger", { defaultMetrics: false });
  const p = new LoggerProxy({
    upstream,
    upstreamTimeoutMs: 2_000,
    event: {
      model: "m",
      revision: "r",
      variant: "stable",
      features: [],
      redact: [],
      headerAllowlist: [],
      maxPayloadBytes: 1 << 20,
      sampleRate: 1,
    },
    spool,
    registry,
    metrics: { ...createLoggerMetrics(registry), ...createEventMetrics(registry) },
    log,
  });
  const url = await p.listen(0, "127.0.0.1");
  closers.push(async () => {
    await p.close();
    await spool.close();
  });
  return { port: Number(new URL(url).port), metrics: () => registry.metrics() };
}

/** Writes raw bytes on a new connection; returns everything read until the logger closes it or goes quiet. */
function exchange(port: number, data: Buffer | string, quietMs = 500): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let out = "";
    let timer = setTimeout(() => socket.destroy(), quietMs);
    socket.on("data", (c: Buffer) => {
      out += c.toString("latin1");
      clearTimeout(timer);
      timer = setTimeout(() => socket.destroy(), quietMs);
    });
    socket.on("error", () => undefined);
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(out);
    });
    socket.write(typeof data === "string" ? Buffer.from(data, "latin1") : data);
  });
}

const statuses = (raw: string) => [...raw.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));

test("bare LF, bare CR, NUL and obs-fold in a header, or ambiguous framing: 400, and nothing reaches the upstream", async () => {
  const up = await lenientUpstream();
  const p = await proxy(up.url);
  const smuggled = "POST /capture HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n";
  const cases: Record<string, string> = {
    "bare LF ends the head early": `GET /v2/models/m HTTP/1.1\r\nhost: x\r\nx-a: a\n\n${smuggled}`,
    "bare LF inside a value": `GET /v2/models/m HTTP/1.1\r\nhost: x\r\nx-a: a\nPOST /capture\r\n\r\n`,
    "bare CR inside a value": `GET /v2/models/m HTTP/1.1\r\nhost: x\r\nx-a: a\rPOST /capture\r\n\r\n`,
    "NUL inside a value": `GET /v2/models/m HTTP/1.1\r\nhost: x\r\nx-a: a\0b\r\n\r\n`,
    "obs-fold": `GET /v2/models/m HTTP/1.1\r\nhost: x\r\nx-a: a\r\n b\r\n\r\n`,
    "space before the colon": `GET /v2/models/m HTTP/1.1\r\nhost: x\r\ntransfer-encoding : chunked\r\n\r\n`,
    "Content-Length and Transfer-Encoding": `POST /v2/models/m/infer HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`,
    "two different Content-Lengths": `POST /v2/models/m/infer HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\ncontent-length: 40\r\n\r\nx${smuggled}`,
    "lines ended by LF alone": `GET /v2/models/m HTTP/1.1\nhost: x\n\n`,
  };
  for (const [name, raw] of Object.entries(cases)) {
    const out = await exchange(p.port, raw);
    assert.deepEqual(statuses(out), [400], `${name}: ${JSON.stringify(out.slice(0, 80))}`);
  }
  assert.equal(up.received(), "", "the upstream received nothing");
  assert.equal(
    metricValue(await p.metrics(), "modelship_logger_refused_total", { reason: "malformed_request" }),
    Object.keys(cases).length,
  );

  // a transfer coding the logger would drop when re-framing: refused, never forwarded
  const gzip = await exchange(
    p.port,
    `POST /v2/models/m/infer HTTP/1.1\r\nhost: x\r\ntransfer-encoding: gzip, chunked\r\n\r\n0\r\n\r\n`,
  );
  assert.deepEqual(statuses(gzip), [501]);
  assert.equal(up.received(), "");

  // and a well-formed request still goes through, as one request
  const ok = await exchange(p.port, `GET /v2/models/m HTTP/1.1\r\nhost: x\r\n\r\n`);
  assert.deepEqual(statuses(ok), [200]);
  assert.equal(up.received().match(/^GET \/v2\/models\/m HTTP\/1\.1\r\n/gm)?.length, 1);
  assert.doesNotMatch(up.received(), /capture/);
});

test("hop-by-hop headers, those named in Connection, and the client's framing stay on the client's hop", async () => {
  const up = await lenientUpstream();
  const p = await proxy(up.url);
  const out = await exchange(
    p.port,
    "GET /v2/models/m HTTP/1.1\r\nhost: client.example\r\nconnection: keep-alive, x-hop\r\nx-hop: 1\r\n" +
      "keep-alive: timeout=5\r\nte: trailers\r\nproxy-authorization: secret\r\nupgrade: websocket\r\n" +
      "x-request-id: r-1\r\nx-end-to-end: yes\r\n\r\n",
  );
  assert.deepEqual(statuses(out), [200]);
  const head = up.received().toLowerCase();
  for (const h of [
    "x-hop:",
    "keep-alive: timeout",
    "te:",
    "proxy-authorization:",
    "upgrade:",
    "client.example",
  ]) {
    assert.ok(!head.includes(h), `${h} is not forwarded:\n${head}`);
  }
  assert.match(head, /x-request-id: r-1\r\n/);
  assert.match(head, /x-end-to-end: yes\r\n/);
});

test("a head over the size limit gets 431; pipelined requests are answered in order", async () => {
  const up = await lenientUpstream();
  const p = await proxy(up.url);
  const big = await exchange(
    p.port,
    `GET /v2/models/m HTTP/1.1\r\nhost: x\r\nx-big: ${"a".repeat(20_000)}\r\n\r\n`,
  );
  assert.deepEqual(statuses(big), [431]);
  const two = await exchange(
    p.port,
    "GET /v2/models/a HTTP/1.1\r\nhost: x\r\n\r\nGET /v2/models/b HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
  );
  assert.deepEqual(statuses(two), [200, 200]);
  assert.match(up.received(), /GET \/v2\/models\/a HTTP\/1\.1[\s\S]*GET \/v2\/models\/b HTTP\/1\.1/);
});
