// Bodies in memory: one body's limit, the budget all bodies share, the chunk count; then a spawned
// logger under 6 x 60 MiB concurrent uploads and a million one-byte chunks, its RSS read from /proc.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { connect } from "node:net";
import { after, test } from "node:test";
import { metricValue, startLoggerCli, tmp, type Cli } from "../testing/procs.js";
import { BodyBudget, BodyBuffer } from "./body.js";
import { Reclaimer } from "./reclaim.js";

const closers: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

test("a declared length is reserved and allocated once; an unknown one grows by doubling within the budget", () => {
  const budget = new BodyBudget(75_000);
  const known = new BodyBuffer(budget, { maxBytes: 50_000, maxChunks: 10 });
  assert.equal(known.expect(30_000), undefined);
  assert.equal(budget.inUse, 30_000, "reserved before a byte arrives");
  for (let i = 0; i < 3; i++) assert.equal(known.push(Buffer.alloc(10_000, i)), undefined);
  assert.equal(known.body().length, 30_000);
  assert.equal(known.body()[25_000], 2);

  const unknown = new BodyBuffer(budget, { maxBytes: 50_000, maxChunks: 10 });
  unknown.expect(undefined);
  assert.equal(unknown.push(Buffer.alloc(20_000, 7)), undefined);
  assert.equal(budget.inUse, 30_000 + 20_000);
  assert.equal(unknown.push(Buffer.alloc(20_000, 8)), undefined);
  assert.equal(budget.inUse, 30_000 + 40_000, "doubled to 40,000");
  // 45,000 bytes would need the buffer at its 50,000 limit: 10,000 more than the budget has left
  assert.deepEqual(unknown.push(Buffer.alloc(5_000)), {
    status: 503,
    reason: "body_budget",
    message: "bodies in flight hold 70000 of 75000 bytes; retry shortly",
  });
  unknown.release();
  known.release();
  assert.equal(budget.inUse, 0, "everything given back");
});

test("one body over the limit is 413 before anything is reserved; too many pieces is 413 too", () => {
  const budget = new BodyBudget(1 << 20);
  const b = new BodyBuffer(budget, { maxBytes: 1000, maxChunks: 5 });
  assert.equal(b.expect(1001)?.status, 413);
  assert.equal(budget.inUse, 0);
  const c = new BodyBuffer(budget, { maxBytes: 1000, maxChunks: 5 });
  for (let i = 0; i < 5; i++) assert.equal(c.push(Buffer.from("x")), undefined);
  assert.equal(c.push(Buffer.from("x"))?.reason, "body_chunks");
  c.release();
  const d = new BodyBuffer(budget, { maxBytes: 1000, maxChunks: 100 });
  assert.equal(d.push(Buffer.alloc(999)), undefined);
  assert.equal(d.push(Buffer.alloc(2))?.reason, "body_too_large");
  d.release();
  assert.equal(budget.inUse, 0);
});

test("the budget emptying after holding a lot schedules one collection; small bodies schedule none", async () => {
  let collections = 0;
  const reclaimer = new Reclaimer(() => () => collections++, 20);
  const budget = new BodyBudget(1 << 30, () => reclaimer.schedule(), 1000);
  assert.ok(budget.tryReserve(600));
  budget.release(600);
  assert.ok(budget.tryReserve(700) && budget.tryReserve(700));
  budget.release(700);
  budget.release(700);
  assert.ok(budget.tryReserve(2000));
  budget.release(2000);
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(collections, 1, "two empties within the delay share one collection");
});

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Samples a process's RSS every 20 ms until stopped; returns the highest. */
function sampleRss(pid: number): { stop(): number } {
  let max = rssMb(pid);
  const t = setInterval(() => (max = Math.max(max, rssMb(pid))), 20);
  return {
    stop() {
      clearInterval(t);
      return Math.max(max, rssMb(pid));
    },
  };
}

/** A model server that reads whatever it is sent and answers a small JSON. */
async function sink(): Promise<string> {
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}'));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  closers.push(() => new Promise((r) => server.close(r)));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

async function logger(upstream: string): Promise<{ cli: Cli; url: string; port: number }> {
  // the container's recommended V8 flags and malloc setting (docs/logging.md, Memory): glibc's default
  // moves its mmap threshold up after a large free, and the bodies' memory then stays in its heap
  process.env.MALLOC_MMAP_THRESHOLD_ = "131072";
  // tsx itself adds some memory of its own
  const l = await startLoggerCli(
    ["--model", "m", "--upstream", upstream, "--sink", "stdout:", "--spool-dir", tmp("spool")],
    ["--max-semi-space-size=4", "--max-old-space-size=64", "--import", "tsx", "bin/dev.ts"],
  );
  closers.push(() => l.cli.stop(2_000));
  return { ...l, port: Number(new URL(l.url).port) };
}

/**
 * Sends one upload on its own connection and returns the status line's code (0: connection dropped).
 * Chunked uploads go as chunks of chunkBytes, written in blocks of about 1 MiB.
 */
function upload(port: number, bytes: number, chunked: boolean, chunkBytes = 1 << 20): Promise<number> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let out = "";
    socket.on("data", (c: Buffer) => {
      out += c.toString("latin1");
      const m = /^HTTP\/1\.1 (\d{3})[\s\S]*?\r\n\r\n/.exec(out);
      if (m) {
        socket.destroy();
        resolve(Number(m[1]));
      }
    });
    socket.on("error", () => undefined);
    socket.on("close", () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(out)?.[1] ?? 0)));
    const framing = chunked ? "transfer-encoding: chunked" : `content-length: ${bytes}`;
    socket.write(`POST /v2/models/m/infer HTTP/1.1\r\nhost: x\r\n${framing}\r\n\r\n`);
    const perBlock = Math.max(1, Math.floor((1 << 20) / chunkBytes));
    const chunk = Buffer.concat([
      Buffer.from(`${chunkBytes.toString(16)}\r\n`),
      Buffer.alloc(chunkBytes, "x"),
      Buffer.from("\r\n"),
    ]);
    const block = chunked
      ? Buffer.concat(Array.from({ length: perBlock }, () => chunk))
      : Buffer.alloc(1 << 20, "x");
    const blockBytes = chunked ? perBlock * chunkBytes : block.length;
    let sent = 0;
    const more = () => {
      while (sent < bytes && !socket.destroyed) {
        sent += blockBytes;
        if (!socket.write(block)) return void socket.once("drain", more);
      }
      if (chunked && !socket.destroyed) socket.write("0\r\n\r\n");
    };
    more();
  });
}

test(
  "6 x 60 MiB concurrent uploads: the budget admits what fits, the rest get 503, RSS stays bounded and comes back down",
  { timeout: 180_000 },
  async () => {
    const l = await logger(await sink());
    const pid = l.cli.child.pid!;
    await new Promise((r) => setTimeout(r, 500));
    const idle = rssMb(pid);
    for (const chunked of [false, true]) {
      const rss = sampleRss(pid);
      const codes = await Promise.all(Array.from({ length: 6 }, () => upload(l.port, 60 << 20, chunked)));
      const peak = rss.stop();
      const ok = codes.filter((c) => c === 200).length;
      const busy = codes.filter((c) => c === 503).length;
      console.log(
        `# ${chunked ? "chunked" : "content-length"}: ${JSON.stringify(codes)}, RSS idle ${idle.toFixed(0)} MB, peak ${peak.toFixed(0)} MB`,
      );
      assert.ok(ok >= 1, `at least one upload fits the 64 MiB budget: ${codes.join(",")}`);
      assert.ok(busy >= 4, `the others are told to retry: ${codes.join(",")}`);
      assert.equal(ok + busy, 6, `nothing else: ${codes.join(",")}`);
      // one 60 MiB body, or a 32 + 16 + 8 ... MiB mix while growing, plus the event's capped copy and garbage
      assert.ok(peak - idle < 170, `RSS grew ${(peak - idle).toFixed(0)} MB over idle (budget 64 MiB)`);
      assert.ok(peak < 256, `under the 256Mi container limit (peak ${peak.toFixed(0)} MB)`);
    }
    const m = await (await fetch(`${l.url}/metrics`)).text();
    assert.ok(metricValue(m, "modelship_logger_refused_total", { reason: "body_budget" }) >= 8);
    assert.equal(
      metricValue(m, "modelship_logger_inflight_body_bytes"),
      0,
      "every reservation was given back",
    );
    // memory comes back: the bodies were released, V8 and malloc return it within a few seconds
    let now = rssMb(pid);
    for (let i = 0; i < 50 && now - idle > 40; i++) {
      await new Promise((r) => setTimeout(r, 200));
      now = rssMb(pid);
    }
    console.log(`# RSS after: ${now.toFixed(0)} MB (idle ${idle.toFixed(0)} MB)`);
    assert.ok(now - idle <= 40, `RSS back within 40 MB of idle (${now.toFixed(0)} vs ${idle.toFixed(0)} MB)`);
  },
);

test(
  "a million one-byte chunks: 413 after the chunk limit, the logger stays up and small",
  { timeout: 120_000 },
  async () => {
    const l = await logger(await sink());
    const pid = l.cli.child.pid!;
    const rss = sampleRss(pid);
    const code = await upload(l.port, 1_000_000, true, 1);
    const peak = rss.stop();
    console.log(`# 1,000,000 one-byte chunks: ${code}, RSS peak ${peak.toFixed(0)} MB`);
    assert.ok(code === 413 || code === 0, `refused (413) or cut, got ${code}`);
    assert.equal((await fetch(`${l.url}/healthz`)).status, 200, "the logger is alive");
    assert.equal(l.cli.child.exitCode, null);
    assert.ok(peak < 200, `RSS peak ${peak.toFixed(0)} MB`);
    const m = await (await fetch(`${l.url}/metrics`)).text();
    assert.equal(metricValue(m, "modelship_logger_refused_total", { reason: "body_chunks" }), 1);
  },
);
