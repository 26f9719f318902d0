import assert from "node:assert/strict";
import { appendFileSync, readdirSync } from "node:fs";
import { test } from "node:test";
import { createLogger } from "../platform/log.js";
import { readSegmentLines, Spool } from "./spool.js";
import { tmp } from "../testing/procs.js";
import { backoffMs, batches } from "./sender.js";

const log = createLogger({ name: "test", level: "silent" });

async function drainAll(spool: Spool): Promise<string[]> {
  const out: string[] = [];
  await spool.flush();
  for (let seg = await spool.next(); seg !== undefined; seg = await spool.next()) {
    out.push(...(await readSegmentLines(seg.path)).lines);
    await spool.ack(seg);
  }
  return out;
}

test("events come back in order, and acknowledged segments are deleted", async () => {
  const dir = tmp("spool");
  const spool = await Spool.open({
    dir,
    maxBytes: 1 << 20,
    syncIntervalMs: 10_000,
    segmentMaxBytes: 64,
    log,
  });
  for (let i = 0; i < 20; i++) assert.equal(spool.append(JSON.stringify({ i })), true);
  await spool.flush();
  for (let i = 20; i < 30; i++) spool.append(JSON.stringify({ i }));
  const lines = await drainAll(spool);
  assert.deepEqual(
    lines.map((l) => (JSON.parse(l) as { i: number }).i),
    Array.from({ length: 30 }, (_, i) => i),
  );
  assert.equal(spool.bytes, 0);
  assert.deepEqual(
    readdirSync(dir).filter((n) => n.startsWith("seg-")),
    [],
  );
  await spool.close();
});

test("a full spool drops (fails open) and counts; it never exceeds its bound", async () => {
  const drops: string[] = [];
  const spool = await Spool.open({
    dir: tmp("spool"),
    maxBytes: 1000,
    syncIntervalMs: 10_000,
    log,
    onDrop: (r) => drops.push(r),
  });
  const line = "x".repeat(99); // 100 bytes with the newline
  let accepted = 0;
  for (let i = 0; i < 25; i++) if (spool.append(line)) accepted++;
  assert.equal(accepted, 10);
  assert.equal(drops.length, 15);
  assert.ok(drops.every((d) => d === "spool_full"));
  assert.equal(spool.drops.spool_full, 15);
  await spool.flush();
  assert.equal(spool.bytes, 1000);
  assert.equal(spool.append(line), false, "flushed bytes still count");
  await drainAll(spool);
  assert.equal(spool.append(line), true, "room again once the sink acknowledged");
  await spool.close();
});

test("segments survive a restart and a torn last line is skipped", async () => {
  const dir = tmp("spool");
  const a = await Spool.open({ dir, maxBytes: 1 << 20, syncIntervalMs: 10_000, log });
  a.append('{"n":1}');
  a.append('{"n":2}');
  await a.flush();
  // what a kill -9 in the middle of a write leaves behind
  const seg = readdirSync(dir).find((n) => n.startsWith("seg-"))!;
  appendFileSync(`${dir}/${seg}`, '{"n":3,"tru');
  await a.close();

  const b = await Spool.open({ dir, maxBytes: 1 << 20, syncIntervalMs: 10_000, log });
  assert.ok(b.bytes > 0, "recovered segments count towards the bound");
  b.append('{"n":4}');
  const first = await b.next();
  const read = await readSegmentLines(first!.path);
  assert.deepEqual(read.lines, ['{"n":1}', '{"n":2}']);
  assert.equal(read.torn, true);
  await b.ack(first!);
  assert.deepEqual(await drainAll(b), ['{"n":4}']);
  await b.close();
});

test("a spool dir held by a live process is refused; the lock of a dead one is taken over", async () => {
  const dir = tmp("spool");
  const a = await Spool.open({ dir, maxBytes: 1 << 20, syncIntervalMs: 10_000, log });
  // the lock names this (live) process; a second open from another pid would be refused:
  // simulate by writing the parent's pid (alive) into the lock
  await a.close();
  appendFileSync(`${dir}/spool.lock`, String(process.ppid));
  await assert.rejects(
    Spool.open({ dir, maxBytes: 1 << 20, syncIntervalMs: 10_000, log }),
    /is in use by process \d+; give each logger its own --spool-dir/,
  );
});

test("fsync mode: commit() resolves once the lines are synced; callers waiting meanwhile share one group", async () => {
  const dir = tmp("spool");
  const spool = await Spool.open({
    dir,
    maxBytes: 1 << 20,
    syncIntervalMs: 60_000,
    segmentMaxBytes: 256,
    mode: "fsync",
    log,
  });
  const done: boolean[] = [];
  const commits: Promise<void>[] = [];
  // 50 callers, each appending then committing, as concurrent requests do; segments seal along the way
  for (let i = 0; i < 50; i++) {
    assert.equal(spool.append(JSON.stringify({ i })), true);
    commits.push(spool.commit().then((ok) => void done.push(ok)));
  }
  await Promise.all(commits);
  assert.equal(done.length, 50);
  assert.ok(done.every((ok) => ok));
  const lines = await drainAll(spool);
  assert.equal(lines.length, 50);
  assert.equal(await spool.commit(), true, "nothing new: resolves at once");
  await spool.close();
});

test("hasRoom says whether an event would be taken; pendingEvents counts what a shutdown leaves", async () => {
  const spool = await Spool.open({ dir: tmp("spool"), maxBytes: 1000, syncIntervalMs: 10_000, log });
  assert.equal(spool.hasRoom(1000), true);
  assert.equal(spool.hasRoom(1001), false);
  for (let i = 0; i < 3; i++) spool.append("x".repeat(99));
  assert.equal(await spool.pendingEvents(), 3, "buffered lines count");
  await spool.flush();
  spool.append("y".repeat(99));
  assert.equal(await spool.pendingEvents(), 4, "written and buffered lines count");
  assert.equal(spool.hasRoom(600), true);
  assert.equal(spool.hasRoom(601), false);
  await spool.close();
});

test("backoff grows exponentially with jitter and is capped", () => {
  assert.equal(
    backoffMs(0, 200, 10_000, () => 0),
    100,
  );
  assert.equal(
    backoffMs(0, 200, 10_000, () => 1),
    200,
  );
  assert.equal(
    backoffMs(3, 200, 10_000, () => 1),
    1600,
  );
  assert.equal(
    backoffMs(30, 200, 10_000, () => 1),
    10_000,
  );
  assert.equal(
    backoffMs(30, 200, 10_000, () => 0),
    5_000,
  );
});

test("batches are bounded by count and bytes", () => {
  const lines = ["aaaa", "bbbb", "cccc", "dddd", "e".repeat(50)];
  assert.deepEqual(batches(lines, 2, 1000), [["aaaa", "bbbb"], ["cccc", "dddd"], ["e".repeat(50)]]);
  assert.deepEqual(batches(lines, 100, 12), [["aaaa", "bbbb"], ["cccc", "dddd"], ["e".repeat(50)]]);
});
