// The Parquet archive: pure naming, schema and retention, then real segments written by real DuckDB and
// read back column by column against the events written; DuckDB never installs or loads an extension;
// the S3 target against moto's S3-compatible server.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { DuckDBConnection } from "@duckdb/node-api";
import { startMoto, type Moto } from "../testing/moto.js";
import { ModelshipEvent } from "./schema.js";
import { DirTarget, S3Target, parseBucketUrl } from "./archive-target.js";
import { openDuckDB, writeSegmentParquet } from "./parquet-archive.js";
import {
  EVENT_COLUMNS,
  KV_FEATURES,
  KV_FORMAT_VERSION,
  KindTracker,
  archiveKey,
  eventRows,
  expiredPartitions,
  parseArchiveKey,
  timeMicros,
} from "./parquet-layout.js";

const env = {
  specversion: "1.0",
  source: "modelship/payments/fraud/r1",
  subject: "fraud",
  datacontenttype: "application/json",
} as const;

/** Inference events with a two-row batch, a failed request, a mixed-type feature and feedback. */
function sampleEvents(): ModelshipEvent[] {
  const base = {
    model: { name: "fraud", version: "v3" },
    revision: "r1",
    variant: "canary" as const,
    path: "/v2/models/fraud/infer",
    latencyMs: 2.25,
    sampleRate: 1,
    fallback: false,
  };
  const raw: unknown[] = [
    {
      ...env,
      id: "a",
      type: "io.modelship.inference.v1",
      time: "2026-03-01T11:15:00.123456Z",
      data: {
        ...base,
        request: {
          id: "req-1",
          inputs: [{ name: "x", shape: [2, 3], datatype: "FP64", data: [1, 2, 3, 4, 5, 6] }],
        },
        features: [
          { amount: 12.5, country: "DE", vip: true, code: 7 },
          { amount: -0.000001, country: 'F"R', vip: false, code: "7b" },
        ],
        response: { outputs: [{ name: "p", shape: [2, 1], datatype: "FP32", data: [0.1, 0.9] }] },
        predictions: [0.1, 0.9],
        status: 200,
        headers: { "x-request-id": "r-1" },
        redacted: ["inputs.ssn"],
        truncated: false,
      },
    },
    {
      ...env,
      id: "b",
      type: "io.modelship.inference.v1",
      time: "2026-03-01T11:20:00Z",
      data: {
        ...base,
        request: { inputs: [], body: "not json" },
        status: 503,
        error: { type: "model_error", message: "upstream answered 503" },
        headers: {},
      },
    },
    {
      ...env,
      id: "c",
      type: "io.modelship.inference.v1",
      time: "2026-03-01T11:21:00Z",
      data: {
        ...base,
        request: { inputs: [] },
        features: [{ amount: 3, country: null, vip: true, code: 1, extra: "x" }],
        predictions: [[0.2, 0.8]],
        status: 200,
        headers: {},
      },
    },
    {
      ...env,
      id: "fb-a",
      type: "io.modelship.feedback.v1",
      time: "2026-03-01T11:30:00Z",
      data: { eventId: "a", groundTruth: [0, 1], time: "2026-03-01T11:29:00Z", model: { name: "fraud" } },
    },
  ];
  return raw.map((r) => ModelshipEvent.parse(r));
}

async function* linesOf(events: unknown[]): AsyncGenerator<string> {
  for (const e of events) yield JSON.stringify(e);
}

test("archive keys are hive-style partitions named after the segment, and parse back", () => {
  const p = { model: "fraud", date: "2026-03-01", hour: "11" };
  const key = archiveKey(p, "/data/fraud/2026-03-01/11/1767-abc-0.ndjson.gz");
  assert.equal(key, "model=fraud/date=2026-03-01/hour=11/part-1767-abc-0.parquet");
  assert.deepEqual(parseArchiveKey(key), { ...p, file: "part-1767-abc-0.parquet" });
  assert.equal(parseArchiveKey("model=fraud/date=2026-03-01/hour=11/.part-1.parquet.x.tmp"), undefined);
  assert.equal(parseArchiveKey("model=fraud/notes.txt"), undefined);
});

test("times keep microseconds; every event row has one cell per event column", () => {
  assert.equal(timeMicros("2026-03-01T11:15:00.123456Z"), 1772363700123456n);
  assert.equal(timeMicros("2026-03-01T12:15:00.1+01:00"), 1772363700100000n);
  assert.throws(() => timeMicros("yesterday"), /not an RFC 3339 time/);
  for (const e of sampleEvents())
    for (const r of eventRows(e)) assert.equal(r.cells.length, EVENT_COLUMNS.length, e.id);
  const [a, b, c, fb] = sampleEvents().map(eventRows);
  assert.equal(a!.length, 2);
  assert.equal(b!.length, 1);
  assert.equal(c!.length, 1);
  assert.equal(fb!.length, 1);
});

test("a feature's column kind follows the JSON types its values had", () => {
  const k = new KindTracker();
  for (const v of [1, 2.5, null]) k.add("n", v);
  for (const v of [true, false]) k.add("b", v);
  for (const v of ["x", null]) k.add("s", v);
  for (const v of [1, "1"]) k.add("m", v);
  k.add("o", { a: 1 });
  k.add("z", null);
  assert.deepEqual(k.kinds(), {
    n: "DOUBLE",
    b: "BOOLEAN",
    s: "VARCHAR",
    m: "JSON",
    o: "JSON",
    z: "VARCHAR",
  });
});

test("retention by age and by count per model", () => {
  const ps = [
    { model: "a", date: "2026-03-01", hour: "09" },
    { model: "a", date: "2026-03-01", hour: "10" },
    { model: "a", date: "2026-03-01", hour: "11" },
    { model: "b", date: "2026-03-01", hour: "08" },
  ];
  const now = Date.parse("2026-03-01T12:30:00Z");
  // hour 09 ended 10:00, 2.5 h before now; hour 10 ended 1.5 h before
  assert.deepEqual(expiredPartitions(ps, { maxAgeMs: 2 * 3_600_000 }, now), [ps[0], ps[3]]);
  assert.deepEqual(expiredPartitions(ps, { maxPartitions: 2 }, now), [ps[0]]);
  assert.deepEqual(expiredPartitions(ps, { maxPartitions: 1, maxAgeMs: 3 * 3_600_000 }, now), [
    ps[0],
    ps[1],
    ps[3],
  ]);
  assert.deepEqual(expiredPartitions(ps, {}, now), []);
});

test("parseBucketUrl names the expected form", () => {
  assert.deepEqual(parseBucketUrl("s3://archive/events/"), { bucket: "archive", prefix: "events/" });
  assert.deepEqual(parseBucketUrl("s3://archive"), { bucket: "archive", prefix: "" });
  assert.throws(() => parseBucketUrl("archive/events"), /expected s3:\/\/BUCKET\[\/PREFIX\]/);
});

describe("a segment written as Parquet by DuckDB", () => {
  let conn: DuckDBConnection;
  const dir = mkdtempSync(join(tmpdir(), "parquet-archive-"));
  const file = join(dir, "part.parquet");
  before(async () => {
    conn = await (await openDuckDB({ threads: 1 })).connect();
    const events = sampleEvents();
    const r = await writeSegmentParquet(conn, linesOf([...events, { not: "an event" }]), file);
    assert.deepEqual(r, {
      events: 4,
      rows: 5,
      skipped: 1,
      features: { amount: "DOUBLE", country: "VARCHAR", vip: "BOOLEAN", code: "JSON", extra: "VARCHAR" },
      predictionKind: "JSON",
    });
  });

  const query = async (sql: string) =>
    (await conn.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];

  test("has the documented columns and types, the format version and the feature kinds", async () => {
    const cols = await query(`DESCRIBE SELECT * FROM '${file}'`);
    const types = Object.fromEntries(cols.map((c) => [c.column_name, c.column_type]));
    for (const c of EVENT_COLUMNS) {
      const want = c.type
        .replace("TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE")
        .replace("MAP(VARCHAR, VARCHAR)", "MAP(VARCHAR, VARCHAR)");
      assert.equal(types[c.name], want, c.name);
    }
    assert.equal(types.prediction, "JSON");
    assert.equal(types.feature_amount, "DOUBLE");
    assert.equal(types.feature_country, "VARCHAR");
    assert.equal(types.feature_vip, "BOOLEAN");
    assert.equal(types.feature_code, "JSON");
    const kv = await query(`SELECT decode(key) AS k, decode(value) AS v FROM parquet_kv_metadata('${file}')`);
    const meta = Object.fromEntries(kv.map((r) => [r.k, r.v]));
    assert.equal(meta[KV_FORMAT_VERSION], "1");
    assert.deepEqual(JSON.parse(meta[KV_FEATURES] as string).features.amount, "DOUBLE");
  });

  test("reads back the events written, row by row", async () => {
    const rows = await query(
      `SELECT *, epoch_us(time) AS time_us, epoch_us(feedback_time) AS fb_us, CAST(headers AS JSON)::VARCHAR AS headers_json FROM '${file}' ORDER BY id, row_index`,
    );
    assert.equal(rows.length, 5);
    const events = new Map(sampleEvents().map((e) => [e.id, e]));
    for (const r of rows) {
      const e = events.get(r.id as string)!;
      assert.equal(r.type, e.type);
      assert.equal(r.source, e.source);
      assert.equal(r.subject, e.subject);
      assert.equal(r.time_us, timeMicros(e.time));
      if (e.type === "io.modelship.feedback.v1") {
        assert.equal(r.feedback_event_id, e.data.eventId);
        assert.deepEqual(JSON.parse(r.ground_truth as string), e.data.groundTruth);
        assert.equal(r.fb_us, timeMicros(e.data.time));
        assert.equal(r.status, null);
        continue;
      }
      const d = e.data;
      const i = r.row_index as number;
      assert.equal(r.model_name, d.model.name);
      assert.equal(r.model_version, d.model.version);
      assert.equal(r.variant, d.variant);
      assert.equal(r.path, d.path);
      assert.equal(r.status, d.status);
      assert.equal(r.error_type, d.error?.type ?? null);
      assert.equal(r.error_message, d.error?.message ?? null);
      assert.equal(r.latency_ms, d.latencyMs);
      assert.equal(r.fallback, d.fallback);
      assert.equal(r.truncated, d.truncated ?? null);
      assert.deepEqual(r.redacted, d.redacted ?? null);
      assert.deepEqual(JSON.parse(r.headers_json as string), d.headers);
      assert.equal(r.request_id, d.request.id ?? null);
      assert.deepEqual(
        r.request === null ? null : JSON.parse(r.request as string),
        i === 0 ? d.request : null,
      );
      assert.deepEqual(
        r.response === null ? null : JSON.parse(r.response as string),
        i === 0 ? (d.response ?? null) : null,
      );
      assert.equal(r.row_count, d.features?.length ?? null);
      assert.equal(r.prediction_count, d.predictions?.length ?? null);
      const pred = d.predictions?.[i];
      assert.deepEqual(r.prediction === null ? undefined : JSON.parse(r.prediction as string), pred);
      const f = d.features?.[i] ?? {};
      assert.equal(r.feature_amount, f.amount ?? null);
      assert.equal(r.feature_country, f.country ?? null);
      assert.equal(r.feature_vip, f.vip ?? null);
      assert.deepEqual(r.feature_code === null ? null : JSON.parse(r.feature_code as string), f.code ?? null);
      assert.equal(r.feature_extra, f.extra ?? null);
    }
  });

  test("DuckDB never installs or loads an extension, and its settings are locked", async () => {
    const loaded = await query(
      `SELECT extension_name, install_mode FROM duckdb_extensions() WHERE loaded OR installed`,
    );
    for (const x of loaded) assert.equal(x.install_mode, "STATICALLY_LINKED", String(x.extension_name));
    assert.ok(loaded.some((x) => x.extension_name === "parquet"));
    assert.ok(loaded.some((x) => x.extension_name === "json"));
    // httpfs is not linked in: reading a URL must fail at once instead of downloading the extension
    await assert.rejects(
      query(`SELECT * FROM read_parquet('https://127.0.0.1:9/x.parquet')`),
      /httpfs|extension/i,
    );
    await assert.rejects(query(`SET autoinstall_known_extensions = true`), /lock|configuration/i);
    const after = await query(
      `SELECT extension_name FROM duckdb_extensions() WHERE installed AND install_mode <> 'STATICALLY_LINKED'`,
    );
    assert.deepEqual(after, []);
    const settings = await query(
      `SELECT current_setting('autoinstall_known_extensions') AS i, current_setting('autoload_known_extensions') AS l`,
    );
    assert.deepEqual(settings[0], { i: false, l: false });
  });
});

test("DirTarget publishes by rename (no partial file is ever visible) and retention empties directories", async () => {
  const root = mkdtempSync(join(tmpdir(), "parquet-dir-"));
  const t = new DirTarget(root);
  const key = "model=m/date=2026-03-01/hour=11/part-1.parquet";
  await assert.rejects(
    t.store(key, async (f) => {
      writeFileSync(f, "half");
      throw new Error("conversion failed");
    }),
    /conversion failed/,
  );
  assert.deepEqual(readdirSync(join(root, "model=m/date=2026-03-01/hour=11")), []);
  const { bytes } = await t.store(key, async (f) => writeFileSync(f, "PAR1"));
  assert.equal(bytes, 4);
  assert.equal(await t.exists(key), true);
  assert.deepEqual(await t.list(), [key]);
  await t.remove([key]);
  assert.deepEqual(readdirSync(root), []);
});

describe("S3Target against a real S3-compatible server (moto)", () => {
  let moto: Moto | undefined;
  let endpoint = "";
  let skip: string | false = false;

  before(
    async () => {
      const m = await startMoto();
      if (typeof m === "string") {
        skip = m;
        return;
      }
      moto = m;
      endpoint = m.endpoint;
      await m.createBucket("archive");
    },
    { timeout: 300_000 },
  );
  after(() => {
    moto?.stop();
  });

  test("store, exists, list and remove Parquet objects, signed with SigV4", async (t) => {
    if (skip) return t.skip(skip);
    const creds = moto!.env;
    assert.throws(() => S3Target.fromUrl("s3://archive/events", endpoint, {}), /AWS_ACCESS_KEY_ID/);
    const target = S3Target.fromUrl("s3://archive/events", endpoint, creds);
    const conn = await (await openDuckDB({ threads: 1 })).connect();
    const key = archiveKey({ model: "fraud", date: "2026-03-01", hour: "11" }, "1-x-0.ndjson");
    await target.store(key, async (f) => {
      await writeSegmentParquet(conn, linesOf(sampleEvents()), f);
    });
    assert.equal(await target.exists(key), true);
    assert.equal(await target.exists("model=fraud/none.parquet"), false);
    assert.deepEqual(await target.list(), [key]);
    // the object is the Parquet file: download it and read it with DuckDB
    const local = join(mkdtempSync(join(tmpdir(), "parquet-s3-")), "x.parquet");
    await target.download(key, local);
    const n = (
      await conn.runAndReadAll(`SELECT count(DISTINCT id)::INTEGER AS n FROM '${local}'`)
    ).getRowObjectsJS();
    assert.deepEqual(n, [{ n: 4 }]);
    await target.remove([key]);
    assert.deepEqual(await target.list(), []);
    assert.equal(existsSync(local), true);
  });

  test("small objects (shared drift reports): read back, listed under a prefix, missing is undefined, bounded", async (t) => {
    if (skip) return t.skip(skip);
    const target = S3Target.fromUrl("s3://archive/shared", endpoint, moto!.env);
    await target.store("reports/fraud/a_ok.json", (f) => writeFile(f, '{"verdict":"ok"}'));
    await target.store("model=fraud/x.parquet", (f) => writeFile(f, "x"));
    assert.deepEqual(await target.list("reports/"), ["reports/fraud/a_ok.json"]);
    assert.equal((await target.read("reports/fraud/a_ok.json", 1024))?.toString(), '{"verdict":"ok"}');
    assert.equal(await target.read("reports/fraud/none.json", 1024), undefined);
    await assert.rejects(target.read("reports/fraud/a_ok.json", 4), /over 4 bytes/);
    await target.remove(await target.list());
  });
});
