// The collector's Parquet archive over a real store, real files and real DuckDB: closed segments become
// Parquet under model=/date=/hour=, a restart archives exactly what was left, move mode deletes archived
// NDJSON only once its hour is well over, and retention trims the archive by count and age.
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { createLogger } from "../platform/log.js";
import { createRegistry } from "../platform/metrics.js";
import { DirTarget } from "../events/archive-target.js";
import { openDuckDB } from "../events/parquet-archive.js";
import { eventually, metricValue, startCli, startCollectorCli, tmp } from "../testing/procs.js";
import { CollectorArchive, segmentPartition, type CollectorArchiveOptions } from "./archive.js";
import { EventStore } from "./store.js";

const log = createLogger({ name: "test", level: "silent" });
const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

function line(id: string, time: string, model = "fraud", amount = 1): string {
  return JSON.stringify({
    specversion: "1.0",
    id,
    source: `modelship/ns/${model}/r1`,
    subject: model,
    type: "io.modelship.inference.v1",
    time,
    datacontenttype: "application/json",
    data: {
      model: { name: model },
      revision: "r1",
      variant: "stable",
      path: `/v2/models/${model}/infer`,
      request: { inputs: [] },
      features: [{ amount, country: "DE" }],
      predictions: [0.5],
      status: 200,
      latencyMs: 1,
      headers: {},
      sampleRate: 1,
      fallback: false,
    },
  });
}

async function archiveOf(dataDir: string, root: string, o: Partial<CollectorArchiveOptions> = {}) {
  const registry = createRegistry("collector", { defaultMetrics: false });
  const archive = await CollectorArchive.open({
    dataDir,
    target: new DirTarget(root),
    mode: "copy",
    retention: {},
    intervalMs: 3_600_000,
    registry,
    log,
    ...o,
  });
  closers.push(() => archive.stop());
  return { archive, metrics: () => registry.metrics() };
}

async function parquetCounts(root: string): Promise<Record<string, number>> {
  const conn = await (await openDuckDB({ threads: 1 })).connect();
  const rows = (
    await conn.runAndReadAll(
      `SELECT model, count(DISTINCT id)::INTEGER AS n FROM read_parquet('${root}/**/*.parquet', hive_partitioning = true, hive_types = {'model': VARCHAR}) GROUP BY model ORDER BY model`,
    )
  ).getRowObjectsJS() as { model: string; n: number }[];
  return Object.fromEntries(rows.map((r) => [r.model, r.n]));
}

test("segmentPartition reads the partition from a segment path, nothing else", () => {
  assert.deepEqual(segmentPartition("/d", "/d/fraud/2026-03-01/11/1-a-0.ndjson.gz"), {
    model: "fraud",
    date: "2026-03-01",
    hour: "11",
  });
  assert.equal(segmentPartition("/d", "/d/@reports/fraud/x.json"), undefined);
  assert.equal(segmentPartition("/d", "/elsewhere/fraud/2026-03-01/11/1-a-0.ndjson"), undefined);
  // the store joins paths: a relative --data-dir ./d gives d/...
  assert.deepEqual(segmentPartition("./d", "d/fraud/2026-03-01/11/1-a-0.ndjson")?.model, "fraud");
});

test("closed segments (plain and gzip) are archived as Parquet, partitioned by model, date and hour", async () => {
  const dataDir = tmp("archive-data");
  const root = tmp("archive-root");
  const { archive, metrics } = await archiveOf(dataDir, root);
  await archive.start();
  const store = new EventStore({
    dir: dataDir,
    gzip: true,
    log,
    onSegmentClosed: (p) => archive.segmentClosed(p),
  });
  const r = await store.ingest([
    line("a1", "2026-03-01T10:05:00Z"),
    line("a2", "2026-03-01T11:05:00Z"),
    line("a3", "2026-03-01T11:06:00Z"),
    line("b1", "2026-03-01T11:07:00Z", "churn"),
  ]);
  assert.equal(r.accepted, 4);
  await store.close();
  await archive.idle();
  const files = await new DirTarget(root).list();
  assert.equal(files.length, 3, files.join(", "));
  for (const f of files)
    assert.match(f, /^model=(fraud|churn)\/date=2026-03-01\/hour=1[01]\/part-.+\.parquet$/);
  assert.deepEqual(await parquetCounts(root), { churn: 1, fraud: 3 });
  // the NDJSON stays (copy mode), each with its marker
  const hour = join(dataDir, "fraud", "2026-03-01", "11");
  const names = readdirSync(hour);
  assert.equal(names.filter((n) => n.endsWith(".ndjson.gz")).length, 1);
  assert.equal(names.filter((n) => n.endsWith(".archived")).length, 1);
  assert.equal(metricValue(await metrics(), "modelship_collector_archive_events_total"), 4);
  assert.equal(
    metricValue(await metrics(), "modelship_collector_archive_segments_total", { result: "ok" }),
    3,
  );
});

test("a restart archives exactly the segments that were not archived", async () => {
  const dataDir = tmp("archive-data");
  const root = tmp("archive-root");
  const store = new EventStore({ dir: dataDir, log });
  await store.ingest([line("a1", "2026-03-01T10:05:00Z"), line("a2", "2026-03-01T11:05:00Z")]);
  await store.close();
  const first = await archiveOf(dataDir, root);
  await first.archive.start();
  await first.archive.idle();
  await first.archive.stop();
  assert.deepEqual(await parquetCounts(root), { fraud: 2 });

  const store2 = new EventStore({ dir: dataDir, log });
  await store2.ingest([line("a3", "2026-03-01T11:30:00Z")]);
  await store2.close();
  const second = await archiveOf(dataDir, root);
  await second.archive.start();
  await second.archive.idle();
  assert.equal((await new DirTarget(root).list()).length, 3);
  assert.deepEqual(await parquetCounts(root), { fraud: 3 });
  assert.equal(
    metricValue(await second.metrics(), "modelship_collector_archive_segments_total", { result: "ok" }),
    1,
  );
});

test("move mode deletes archived NDJSON once its hour ended over an hour ago; retention trims the archive", async () => {
  const dataDir = tmp("archive-data");
  const root = tmp("archive-root");
  const store = new EventStore({ dir: dataDir, log });
  await store.ingest([
    line("a1", "2026-03-01T09:05:00Z"),
    line("a2", "2026-03-01T10:05:00Z"),
    line("a3", "2026-03-01T11:05:00Z"),
  ]);
  await store.close();
  // 11:30: hour 09 ended 10:00 (over an hour ago), hours 10 and 11 did not
  let now = Date.parse("2026-03-01T11:30:00Z");
  const { archive, metrics } = await archiveOf(dataDir, root, {
    mode: "move",
    retention: { maxPartitions: 2 },
    now: () => now,
  });
  await archive.start();
  await archive.idle();
  await archive.runOnce();
  const ndjson = (h: string) =>
    existsSync(join(dataDir, "fraud", "2026-03-01", h))
      ? readdirSync(join(dataDir, "fraud", "2026-03-01", h)).filter((n) => n.endsWith(".ndjson")).length
      : 0;
  assert.equal(ndjson("09"), 0);
  assert.equal(ndjson("10"), 1);
  assert.equal(ndjson("11"), 1);
  // maxPartitions 2: hour 09 left the archive, 10 and 11 stay
  const keys = await new DirTarget(root).list();
  assert.deepEqual(
    keys.map((k) => k.split("/").slice(0, 3).join("/")),
    ["model=fraud/date=2026-03-01/hour=10", "model=fraud/date=2026-03-01/hour=11"],
  );
  assert.equal(
    metricValue(await metrics(), "modelship_collector_archive_deleted_total", { what: "ndjson" }),
    1,
  );
  assert.equal(
    metricValue(await metrics(), "modelship_collector_archive_deleted_total", { what: "parquet" }),
    1,
  );
  now = Date.parse("2026-03-01T13:00:00Z");
  await archive.runOnce();
  assert.equal(ndjson("10"), 0);
  assert.equal(ndjson("11"), 0);
  // the store no longer serves moved events; the archive holds them
  const served: string[] = [];
  for await (const l of store.read(
    "fraud",
    new Date("2026-03-01T00:00:00Z"),
    new Date("2026-03-02T00:00:00Z"),
  ))
    served.push(l);
  assert.deepEqual(served, []);
  assert.deepEqual(await parquetCounts(root), { fraud: 2 });
});

test("modelship collector --archive: the CLI archives rotated segments and refuses an archive inside --data-dir", async () => {
  const dataDir = tmp("archive-cli-data");
  const root = tmp("archive-cli-root");
  const { cli, url } = await startCollectorCli(dataDir, 0, ["--archive", root, "--segment-max-age-ms", "1"]);
  closers.push(async () => void (await cli.stop()));
  const now = new Date();
  const body = [line("c1", now.toISOString()), line("c2", now.toISOString())].join("\n") + "\n";
  assert.equal((await fetch(`${url}/v1/events`, { method: "POST", body })).status, 200);
  // the writer checks segment ages every 5 s; the closed segment is archived right after
  await cli.waitForLog("Archived segment as Parquet", 20_000);
  await eventually(
    async () => ((await parquetCounts(root)).fraud === 2 ? true : undefined),
    10_000,
    "Parquet rows",
  );
  assert.equal(await cli.stop(), 0);

  const bad = startCli(["collector", "--data-dir", dataDir, "--archive", join(dataDir, "parquet")]);
  assert.equal(await bad.exited, 2);
});
