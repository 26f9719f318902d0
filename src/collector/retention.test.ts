import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { eventually, exportEvents, metricValue, startCollectorCli, tmp, type Cli } from "../testing/procs.js";
import { partitionStart } from "./store.js";
import { ndjson, postEvents, testEvent } from "./testing/events.js";

const clis: Cli[] = [];
after(async () => {
  for (const c of clis) await c.stop();
});

const DAY = 86_400_000;

test("partitionStart reads a partition's date and hour directories; anything else is NaN", () => {
  assert.equal(partitionStart("2026-03-01", "07"), Date.parse("2026-03-01T07:00:00Z"));
  assert.ok(Number.isNaN(partitionStart("2026-03-01", "7")));
  assert.ok(Number.isNaN(partitionStart("@reports", "00")));
});

test("Given --retention-days 2, Then partitions older than that are deleted whole, newer ones kept, and older events refused", async () => {
  const dir = tmp("retention");
  const now = Date.now();
  // Given events 10 days, 3 days and 1 hour old, stored by a collector without retention
  const first = await startCollectorCli(dir);
  clis.push(first.cli);
  const r = await postEvents(
    first.url,
    ndjson([
      testEvent("d10", new Date(now - 10 * DAY)),
      testEvent("d3", new Date(now - 3 * DAY)),
      testEvent("d3b", new Date(now - 3 * DAY), 0, "other"),
      testEvent("h1", new Date(now - 3_600_000)),
    ]),
  );
  assert.equal(r.body.accepted, 4);
  await first.cli.stop();

  // When a collector with --retention-days 2 runs
  const { cli, url } = await startCollectorCli(dir, 0, [
    "--retention-days",
    "2",
    "--retention-interval-ms",
    "200",
  ]);
  clis.push(cli);

  // Then only the last hour's partition is left, and the deletions are counted
  await eventually(
    async () => ((await exportEvents(url, "fraud")).length === 1 ? true : undefined),
    10_000,
    "old partitions deleted",
  );
  assert.deepEqual(
    (await exportEvents(url, "fraud")).map((e) => e.id),
    ["h1"],
  );
  assert.equal(existsSync(join(dir, "other")), false, "an emptied model directory goes too");
  assert.equal(readdirSync(join(dir, "fraud")).length, 1, "emptied date directories go too");
  const metrics = await (await fetch(`${url}/metrics`)).text();
  assert.equal(metricValue(metrics, "modelship_collector_retention_deleted_segments_total"), 3);
  assert.equal(metricValue(metrics, "modelship_collector_retention_deleted_partitions_total"), 3);

  // and an event already past retention is acknowledged but not stored
  const late = await postEvents(url, ndjson([testEvent("late", new Date(now - 5 * DAY))]));
  assert.equal(late.status, 200, "the sender must not retry it");
  assert.equal(late.body.expired, 1);
  assert.equal(late.body.accepted, 0);
  assert.deepEqual(
    (await exportEvents(url, "fraud")).map((e) => e.id),
    ["h1"],
  );
});
