// Drift over the Parquet archive gives the report the NDJSON path gives for the same events: the same
// window written both ways (batches, failures, feedback, a renamed field, strings in a numeric feature,
// numeric codes in a categorical one, non-window events), read inline and by worker threads.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, test } from "node:test";
import { S3Target } from "../events/archive-target.js";
import { openDuckDB, writeSegmentParquet } from "../events/parquet-archive.js";
import { archiveKey } from "../events/parquet-layout.js";
import { partitionOf } from "../events/partition.js";
import { createLogger } from "../platform/log.js";
import { startMoto } from "../testing/moto.js";
import { buildBaseline } from "./baseline-builder.js";
import { DEFAULT_THRESHOLDS } from "./evaluate.js";
import { runDriftJob } from "./job.js";
import type { DriftReport } from "./report.js";
import { seededRandom } from "./values.js";

const log = createLogger({ name: "drift-parquet-test", level: "silent" });
const UNTIL = new Date("2026-03-01T12:00:00Z");
const rand = seededRandom(7);
const normal = (mu = 0) => mu + Math.sqrt(-2 * Math.log(rand() + 1e-300)) * Math.cos(2 * Math.PI * rand());
const COLORS = ["red", "green", "blue"];

function row(shift: boolean): Record<string, number | string | boolean | null> {
  return {
    x1: Math.round(normal(shift ? 0.6 : 0) * 1e4) / 1e4,
    x2: rand() < 0.05 ? null : Math.round(normal(10) * 1e3) / 1e3,
    color: COLORS[Math.floor(rand() ** (shift ? 0.5 : 1) * 3)]!,
    flag: rand() < 0.3,
    code: Math.floor(rand() * 4),
  };
}

const dir = mkdtempSync(join(tmpdir(), "drift-parquet-"));
const baselineFile = join(dir, "baseline.json");

/** NDJSON lines of a window: 1,200 events over the two hours before UNTIL (half of them outside a 1h window). */
function windowLines(model: string): string[] {
  const lines: string[] = [];
  const n = 1200;
  for (let i = 0; i < n; i++) {
    const time = new Date(
      UNTIL.getTime() - 7_200_000 + Math.floor(((i + 0.5) * 7_200_000) / n),
    ).toISOString();
    const env = {
      specversion: "1.0",
      source: `modelship/ns/${model}/r1`,
      subject: model,
      time,
      datacontenttype: "application/json",
    };
    const batch = i % 7 === 0 ? 3 : 1;
    const features = Array.from({ length: batch }, () => row(i % 2 === 0));
    if (i % 50 === 0) features[0]!.x1 = "12.5"; // a string in a numeric feature
    if (i % 40 === 0) {
      features[0]!.x2_renamed = features[0]!.x2 ?? 1;
      delete features[0]!.x2;
    }
    if (i % 60 === 0) features[0]!.color = 3; // a number in a categorical feature
    const failed = i % 25 === 0;
    const predictions: unknown[] = features.map(
      (f) => Math.round((1 / (1 + Math.exp(-3 * Number(f.x1)))) * 1e4) / 1e4,
    );
    // one-element arrays count as their element, longer ones as "other", null as missing
    if (i % 90 === 0) predictions[0] = [predictions[0]];
    if (i % 130 === 0) predictions[0] = i % 260 === 0 ? null : [0.2, 0.8];
    lines.push(
      JSON.stringify({
        ...env,
        id: `${model}-${i}`,
        type: "io.modelship.inference.v1",
        data: {
          model: { name: model },
          revision: "r1",
          variant: "stable",
          path: `/v2/models/${model}/infer`,
          request: { inputs: [] },
          ...(failed && i % 50 === 25 ? {} : { features }),
          ...(failed ? {} : { predictions }),
          status: failed ? 500 : 200,
          ...(failed ? { error: { type: "model_error", message: "boom" } } : {}),
          latencyMs: 3,
          headers: {},
          sampleRate: 1,
          fallback: false,
        },
      }),
    );
    if (i % 3 === 0 && !failed) {
      lines.push(
        JSON.stringify({
          ...env,
          id: `fb-${model}-${i}`,
          type: "io.modelship.feedback.v1",
          data: {
            eventId: `${model}-${i}`,
            groundTruth: batch === 1 ? (rand() < 0.7 ? 1 : 0) : features.map(() => (rand() < 0.5 ? 1 : 0)),
            time,
          },
        }),
      );
    }
  }
  return lines;
}

/** Writes the lines both ways: NDJSON in the collector's layout and Parquet in the archive's. */
async function writeBoth(model: string, ndjsonRoot: string, parquetRoot: string): Promise<void> {
  const byHour = new Map<string, string[]>();
  for (const l of windowLines(model)) {
    const t = (JSON.parse(l) as { time: string }).time;
    const p = partitionOf(model, t);
    const key = `${p.date}/${p.hour}`;
    byHour.set(key, [...(byHour.get(key) ?? []), l]);
  }
  const conn = await (await openDuckDB({ threads: 1 })).connect();
  for (const [key, lines] of byHour) {
    const [date, hour] = key.split("/") as [string, string];
    // two segments per hour, as a collector that rotated once would leave
    const half = Math.ceil(lines.length / 2);
    for (const [k, part] of [lines.slice(0, half), lines.slice(half)].entries()) {
      const seg = `100${k}-test-${k}.ndjson`;
      const d = join(ndjsonRoot, model, date, hour);
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, seg), part.join("\n") + "\n");
      const out = join(parquetRoot, archiveKey({ model, date, hour }, seg));
      mkdirSync(join(out, ".."), { recursive: true });
      async function* gen() {
        yield* part;
      }
      await writeSegmentParquet(conn, gen(), out);
    }
  }
}

before(async () => {
  const rows = Array.from({ length: 2000 }, () => {
    const r = row(false);
    return {
      ...r,
      p: Math.round((1 / (1 + Math.exp(-3 * Number(r.x1)))) * 1e4) / 1e4,
      y: rand() < 0.7 ? 1 : 0,
    };
  });
  const b = await buildBaseline(
    async function* () {
      yield* rows;
    },
    { file: "train.jsonl", format: "jsonl" },
    { sampleSize: 1500, bins: 10, topK: 50, labelField: "y", predictionField: "p" },
  );
  writeFileSync(baselineFile, JSON.stringify(b));
});

/**
 * The report without what legitimately differs between the two readers: timings, the NDJSON-only
 * schema-check counts, and the last bits of means (float sums depend on how workers split the values).
 */
function comparable(r: DriftReport) {
  const { durationMs: _d, generatedAt: _g, ...rest } = r;
  const counts = { ...rest.counts, schemaChecked: 0, invalid: 0, files: 0 };
  const round = (f: DriftReport["features"][number]) => ({ ...f, mean: f.mean?.toPrecision(12) });
  return {
    ...rest,
    counts,
    features: rest.features.map(round),
    prediction: rest.prediction && round(rest.prediction),
    integrity: { ...rest.integrity, invalidSamples: [] },
  };
}

async function run(events: string, model: string, workers: number) {
  return runDriftJob({
    baselineUri: baselineFile,
    events: { kind: "dir", dir: events },
    model,
    window: { since: new Date(UNTIL.getTime() - 3_600_000), until: UNTIL },
    thresholds: DEFAULT_THRESHOLDS,
    workers,
    log,
    now: () => UNTIL,
  });
}

test("the same window from Parquet and from NDJSON gives the same report, inline and with workers", async () => {
  const ndjson = join(dir, "ndjson");
  const parquet = join(dir, "parquet");
  await writeBoth("fraud", ndjson, parquet);
  const fromNdjson = await run(ndjson, "fraud", 0);
  assert.equal(fromNdjson.verdict, "drift");
  assert.equal(fromNdjson.counts.invalid, 0);
  for (const workers of [0, 2]) {
    const fromParquet = await run(parquet, "fraud", workers);
    assert.equal(fromParquet.counts.files, 2, "only the window's hour partition is read");
    assert.deepEqual(comparable(fromParquet), comparable(fromNdjson), `workers ${workers}`);
  }
  // the things the window holds, so the comparison above compares something
  const f = new Map(fromNdjson.features.map((x) => [x.name, x]));
  assert.ok(fromNdjson.counts.events > 500 && fromNdjson.counts.rows > fromNdjson.counts.events);
  assert.ok(fromNdjson.counts.failed > 0 && fromNdjson.counts.withoutFeatures > 0);
  assert.ok(fromNdjson.counts.outsideWindow === 0, "whole hours: nothing outside");
  assert.ok(fromNdjson.counts.feedback > 100);
  assert.ok(fromNdjson.quality!.window!.n > 100);
  assert.equal(f.get("x1")!.test!.name, "ks");
  assert.equal(f.get("color")!.test!.name, "chi2");
  const kinds = fromNdjson.integrity.issues.map((i) => `${i.kind}:${i.field ?? ""}`);
  assert.ok(kinds.includes("type_change:x1"), kinds.join(","));
  assert.ok(kinds.includes("unexpected_field:x2_renamed"), kinds.join(","));
});

test("a window that cuts an hour counts the events outside it the same way", async () => {
  const ndjson = join(dir, "ndjson-cut");
  const parquet = join(dir, "parquet-cut");
  await writeBoth("cut", ndjson, parquet);
  const window = { since: new Date(UNTIL.getTime() - 5_400_000), until: new Date(UNTIL.getTime() - 600_000) };
  const common = {
    baselineUri: baselineFile,
    model: "cut",
    window,
    thresholds: DEFAULT_THRESHOLDS,
    workers: 0,
    log,
    now: () => UNTIL,
  };
  const a = await runDriftJob({ ...common, events: { kind: "dir", dir: ndjson } });
  const b = await runDriftJob({ ...common, events: { kind: "dir", dir: parquet } });
  assert.ok(a.counts.outsideWindow > 0);
  assert.deepEqual(comparable(b), comparable(a));
});

test("a Parquet file of an unknown format version is refused with a reason", async () => {
  const file = join(dir, "v9.parquet");
  const conn = await (await openDuckDB({ threads: 1 })).connect();
  await conn.run(
    `COPY (SELECT 'x' AS id) TO '${file}' (FORMAT parquet, KV_METADATA {"modelship.archive.formatVersion": '9'})`,
  );
  const r = await runDriftJob({
    baselineUri: baselineFile,
    events: { kind: "parquet", file },
    model: "fraud",
    window: { since: new Date(UNTIL.getTime() - 3_600_000), until: UNTIL },
    thresholds: DEFAULT_THRESHOLDS,
    workers: 0,
    log,
    now: () => UNTIL,
  });
  assert.equal(r.verdict, "error");
  assert.match(r.reasons[0]!, /format version 9; this modelship reads version 1/);
});

test("drift reads the archive from an S3-compatible bucket (moto): the window's files, downloaded once", async (t) => {
  const moto = await startMoto();
  if (typeof moto === "string") return t.skip(moto);
  t.after(() => moto.stop());
  const endpoint = moto.endpoint;
  await moto.createBucket("bucket");
  const env = moto.env;
  // the parquet directory of the first test, uploaded file by file under a prefix
  const local = join(dir, "parquet");
  const bucket = S3Target.fromUrl("s3://bucket/archive", endpoint, env);
  const walk = (d: string, rel: string): string[] =>
    readdirSync(d).flatMap((n) =>
      statSync(join(d, n)).isDirectory() ? walk(join(d, n), `${rel}${n}/`) : [`${rel}${n}`],
    );
  for (const key of walk(local, ""))
    await bucket.store(key, async (f) => writeFileSync(f, readFileSync(join(local, key))));
  const common = {
    baselineUri: baselineFile,
    model: "fraud",
    window: { since: new Date(UNTIL.getTime() - 3_600_000), until: UNTIL },
    thresholds: DEFAULT_THRESHOLDS,
    workers: 0,
    log,
    now: () => UNTIL,
  };
  const fromBucket = await runDriftJob({
    ...common,
    events: { kind: "s3", url: "s3://bucket/archive" },
    endpoint,
    env,
  });
  const fromDir = await runDriftJob({ ...common, events: { kind: "dir", dir: local } });
  assert.equal(fromBucket.counts.files, 2, "only the window's hour");
  assert.deepEqual(comparable(fromBucket), comparable(fromDir));
  const denied = await runDriftJob({
    ...common,
    events: { kind: "s3", url: "s3://bucket/archive" },
    endpoint,
    env: {},
  });
  assert.equal(denied.verdict, "error");
  assert.match(denied.reasons[0]!, /AWS_ACCESS_KEY_ID/);
});
