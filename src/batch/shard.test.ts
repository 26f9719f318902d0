import { test } from "node:test";
import assert from "node:assert/strict";
import {
  BlockCounter,
  blockOf,
  checkShard,
  localBlock,
  mergePlan,
  ownsBlock,
  shardOfId,
  type BlockCounts,
} from "./shard.js";
import { combineParts, type PartSummary } from "./summary.js";
import { companions } from "./paths.js";

test("blocks are dealt round-robin: the worked example of shard.ts", () => {
  const shards = [0, 1, 2].map((i) => checkShard(i, 3));
  const owner = (record: number) => shards.findIndex((s) => ownsBlock(blockOf(record, 2), s));
  assert.deepEqual(
    Array.from({ length: 10 }, (_, r) => owner(r)),
    [0, 0, 1, 1, 2, 2, 0, 0, 1, 1],
  );
  assert.equal(localBlock(blockOf(6, 2), shards[0]!), 1);
  assert.equal(localBlock(blockOf(8, 2), shards[1]!), 1);
  // every record has exactly one owner, for any shard count
  for (const n of [1, 2, 3, 4, 7]) {
    const all = Array.from({ length: n }, (_, i) => checkShard(i, n));
    for (let r = 0; r < 200; r++) assert.equal(all.filter((s) => ownsBlock(blockOf(r, 5), s)).length, 1);
  }
  assert.throws(() => checkShard(3, 3), /0\.\.2, got 3/);
  assert.throws(() => checkShard(0, 0), />= 1/);
});

/** Simulates shards writing their parts, then merges with mergePlan: the result must be input order. */
function simulate(records: number, blockRows: number, shards: number, rejectedRecords: Set<number>) {
  const outputs: number[][] = Array.from({ length: shards }, () => []);
  const rejects: number[][] = Array.from({ length: shards }, () => []);
  const counters = Array.from({ length: shards }, () => new BlockCounter(blockRows));
  for (let r = 0; r < records; r++) {
    const b = blockOf(r, blockRows);
    const s = checkShard(b % shards, shards);
    const ok = !rejectedRecords.has(r);
    (ok ? outputs : rejects)[s.index]!.push(r);
    counters[s.index]!.add(localBlock(b, s), ok);
  }
  const counts: BlockCounts[] = counters.map((c) => c.result());
  const merged: number[] = [];
  const mergedRejects: number[] = [];
  const cursors = outputs.map(() => 0);
  const rejCursors = outputs.map(() => 0);
  for (const step of mergePlan(counts)) {
    for (let i = 0; i < step.predicted; i++) merged.push(outputs[step.part]![cursors[step.part]!++]!);
    for (let i = 0; i < step.rejected; i++)
      mergedRejects.push(rejects[step.part]![rejCursors[step.part]!++]!);
  }
  return { merged, mergedRejects, counts };
}

test("merging the parts block by block restores input order, with rejects and a short last block", () => {
  const table: [number, number, number, number[]][] = [
    // records, blockRows, shards, rejected records
    [10, 2, 3, []],
    [10, 2, 3, [0, 5, 9]],
    [1000, 64, 4, [3, 64, 65, 999]],
    [7, 10, 4, [6]], // fewer blocks than shards: shards 1..3 have nothing
    [0, 4, 2, []],
    [129, 8, 1, [1, 2, 3]],
  ];
  for (const [records, blockRows, shards, bad] of table) {
    const rejected = new Set(bad);
    const { merged, mergedRejects } = simulate(records, blockRows, shards, rejected);
    const all = Array.from({ length: records }, (_, r) => r);
    assert.deepEqual(
      merged,
      all.filter((r) => !rejected.has(r)),
      `${records} records, ${shards} shards`,
    );
    assert.deepEqual(mergedRejects, bad);
  }
});

test("a part lists only its uneven blocks; parts that do not fit together are refused", () => {
  const { counts } = simulate(10, 4, 2, new Set([1]));
  // shard 0: blocks 0 (records 0-3, one rejected) and 2 (records 8-9, short); shard 1: block 1, full
  assert.deepEqual(counts[0], { blockRows: 4, blocks: 2, uneven: { "0": [3, 1], "1": [2, 0] } });
  assert.deepEqual(counts[1], { blockRows: 4, blocks: 1, uneven: {} });
  assert.throws(
    () => [...mergePlan([counts[0]!, { blockRows: 4, blocks: 0, uneven: {} }])],
    /part 1 holds 0 blocks/,
  );
  const c = new BlockCounter(2);
  c.add(1, true);
  assert.throws(() => c.add(0, true), /block 0 came after block 1/);
});

test("SQL rows are split by md5 of their id, as PostgreSQL computes it", () => {
  // md5('abc') = 900150983cd24fb0...: 0x90015098 = 2416005272
  assert.equal(shardOfId("abc", 1_000_000_000), 2416005272 % 1_000_000_000);
  assert.equal(shardOfId("abc", 4), 0);
  const counts = [0, 0, 0, 0];
  for (let i = 0; i < 4000; i++) counts[shardOfId(String(i), 4)]!++;
  // an even split within a few percent
  for (const c of counts) assert.ok(c > 900 && c < 1100, `shard sizes ${counts}`);
});

test("the run's summary waits for every shard and names each failed one", () => {
  const part = (shard: number, extra: Partial<PartSummary> = {}): PartSummary => ({
    runId: "r1",
    shard,
    shards: 3,
    outcome: "Succeeded",
    rows: 10,
    predicted: 9,
    rejected: 1,
    startedAt: `2026-01-01T00:00:0${shard}Z`,
    finishedAt: `2026-01-01T00:01:0${shard}Z`,
    ...extra,
  });
  const where = { output: "pvc://d/out.jsonl", rejects: "pvc://d/out.rejects.jsonl" };
  assert.equal(combineParts([part(0), part(2)], "r1", 3, where), undefined);
  // a part of another run, or another shard count, does not count
  assert.equal(combineParts([part(0), part(1, { runId: "r0" }), part(2)], "r1", 3, where), undefined);
  assert.deepEqual(combineParts([part(2), part(0), part(1)], "r1", 3, where), {
    runId: "r1",
    shards: 3,
    outcome: "Succeeded",
    rows: 30,
    predicted: 27,
    rejected: 3,
    startedAt: "2026-01-01T00:00:00Z",
    finishedAt: "2026-01-01T00:01:02Z",
    ...where,
  });
  const failed = combineParts(
    [part(0), part(1, { outcome: "Failed", message: "boom" }), part(2)],
    "r1",
    3,
    where,
  );
  assert.equal(failed?.outcome, "Failed");
  assert.equal(failed?.message, "shard 1 of 3: boom");
});

test("rejects and the summary sit beside the output, named after it", () => {
  assert.deepEqual(companions("pvc://store/fraud/scores.jsonl"), {
    rejects: "pvc://store/fraud/scores.rejects.jsonl",
    summary: "pvc://store/fraud/scores.summary.json",
  });
  assert.deepEqual(companions("/out/scores.CSV"), {
    rejects: "/out/scores.rejects.jsonl",
    summary: "/out/scores.summary.json",
  });
  assert.equal(companions("/out/scores").rejects, "/out/scores.rejects.jsonl");
});
