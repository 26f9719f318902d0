// The drift job end to end over real files, a real HTTP export and the real CLI: baseline from CSV,
// windows with and without shift, integrity breaks, feedback, and the bad-input paths.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { createLogger } from "../platform/log.js";
import { DEFAULT_THRESHOLDS } from "./evaluate.js";
import { runDriftJob } from "./job.js";
import type { DriftReport } from "./report.js";
import { seededRandom } from "./values.js";

const rand = seededRandom(99);
const normal = (mu = 0, sd = 1) =>
  mu + sd * Math.sqrt(-2 * Math.log(rand() + 1e-300)) * Math.cos(2 * Math.PI * rand());
const COLORS = ["red", "green", "blue"];
const UNTIL = new Date("2026-03-01T12:00:00Z");
const log = createLogger({ name: "drift-test", level: "silent" });

function row(shift: boolean) {
  const x1 = Math.round(normal(shift ? 0.8 : 0) * 1e4) / 1e4;
  const x2 = Math.round(normal(10, 2) * 1e3) / 1e3;
  const color = COLORS[Math.floor(rand() ** (shift ? 0.4 : 1) * 3)]!;
  const flag = rand() < 0.3;
  const p = 1 / (1 + Math.exp(-3 * x1));
  const y = x1 + normal(0, 0.3) > 0 ? 1 : 0;
  return { x1, x2, color, flag, p: Math.round(p * 1e4) / 1e4, y };
}

function writeTraining(dir: string): string {
  const file = join(dir, "train.csv");
  const lines = ["x1,x2,color,flag,p,y"];
  for (let i = 0; i < 3000; i++) {
    const r = row(false);
    lines.push([r.x1, i % 100 === 0 ? "" : r.x2, r.color, r.flag, r.p, r.y].join(","));
  }
  writeFileSync(file, lines.join("\n") + "\n");
  return file;
}

interface WindowSpec {
  n: number;
  shift: boolean;
  rename?: boolean;
  feedbackFlip?: number;
}

/** Writes events for the hour before UNTIL in the collector layout; returns the NDJSON text too. */
function writeWindow(dir: string, model: string, spec: WindowSpec): string {
  const lines: string[] = [];
  for (let i = 0; i < spec.n; i++) {
    const r = row(spec.shift);
    const time = new Date(
      UNTIL.getTime() - 3_600_000 + Math.floor(((i + 0.5) * 3_600_000) / spec.n),
    ).toISOString();
    const features: Record<string, unknown> = { x1: r.x1, x2: r.x2, color: r.color, flag: r.flag };
    if (spec.rename) {
      features.x2_renamed = features.x2;
      delete features.x2;
    }
    const id = `${model}-${i}`;
    const env = {
      specversion: "1.0",
      source: `modelship/ns/${model}/r1`,
      subject: model,
      time,
      datacontenttype: "application/json",
    };
    lines.push(
      JSON.stringify({
        ...env,
        id,
        type: "io.modelship.inference.v1",
        data: {
          model: { name: model },
          revision: "r1",
          variant: "stable",
          path: `/v2/models/${model}/infer`,
          request: { inputs: [] },
          features: [features],
          predictions: [r.p],
          status: 200,
          latencyMs: 3,
          headers: {},
          sampleRate: 1,
          fallback: false,
        },
      }),
    );
    if (spec.feedbackFlip !== undefined && i % 2 === 0) {
      const truth = rand() < spec.feedbackFlip ? 1 - r.y : r.y;
      lines.push(
        JSON.stringify({
          ...env,
          id: `fb-${id}`,
          type: "io.modelship.feedback.v1",
          data: { eventId: id, groundTruth: truth, time },
        }),
      );
    }
  }
  const part = join(dir, model, "2026-03-01", "11");
  mkdirSync(part, { recursive: true });
  writeFileSync(join(part, "events-0.ndjson"), lines.join("\n") + "\n");
  return lines.join("\n") + "\n";
}

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ["--import", "tsx", "bin/dev.ts", ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d: Buffer) => (stdout += d));
    p.stderr.on("data", (d: Buffer) => (stderr += d));
    p.on("error", reject);
    p.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const dir = mkdtempSync(join(tmpdir(), "drift-e2e-"));
const baselineFile = join(dir, "baseline.json");
const events = join(dir, "events");

test(
  "baseline CLI profiles a CSV with label, prediction and reference quality",
  { timeout: 180_000 },
  async () => {
    const train = writeTraining(dir);
    const r = await cli([
      "baseline",
      "--data",
      train,
      "--out",
      baselineFile,
      "--label-field",
      "y",
      "--prediction-field",
      "p",
      "--sample-size",
      "2000",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const b = JSON.parse(readFileSync(baselineFile, "utf8"));
    assert.deepEqual(Object.keys(b.features), ["x1", "x2", "color", "flag"]);
    assert.equal(b.features.x1.type, "numeric");
    assert.equal(b.features.x1.sample.values.length, 2000);
    assert.equal(b.features.x1.sample.exact, false);
    assert.equal(b.features.x2.missing, 30);
    assert.equal(b.features.color.type, "categorical");
    assert.equal(b.features.flag.type, "boolean");
    assert.equal(b.prediction.field, "p");
    assert.equal(b.quality.task, "classification");
    assert.ok(b.quality.accuracy > 0.8 && b.quality.accuracy < 1, `accuracy ${b.quality.accuracy}`);
    assert.equal(
      b.features.x1.bins.counts.reduce((a: number, c: number) => a + c, 0),
      3000,
    );
  },
);

test(
  "an unshifted window is ok; the CLI writes the report, the summary and metrics",
  { timeout: 180_000 },
  async () => {
    writeWindow(events, "steady", { n: 3000, shift: false });
    const out = join(dir, "steady.json");
    const metrics = join(dir, "steady.prom");
    const r = await cli([
      "drift",
      "--baseline",
      baselineFile,
      "--events",
      events,
      "--model",
      "steady",
      "--window",
      "1h",
      "--until",
      UNTIL.toISOString(),
      "--out",
      out,
      "--metrics-file",
      metrics,
      "--workers",
      "2",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(readFileSync(out, "utf8")) as DriftReport;
    assert.equal(report.verdict, "ok", report.reasons.join("; "));
    assert.equal(report.counts.events, 3000);
    assert.equal(report.counts.files, 1);
    assert.equal(report.features.length, 4);
    for (const f of report.features) assert.notEqual(f.verdict, "drift", `${f.name}: ${f.reason}`);
    const x1 = report.features.find((f) => f.name === "x1")!;
    assert.equal(x1.test!.name, "ks");
    assert.equal(x1.test!.n1, 2000);
    assert.equal(x1.test!.n2, 3000);
    assert.equal(x1.test!.method, "exact");
    assert.ok(x1.psi! < 0.05);
    assert.equal(report.features.find((f) => f.name === "color")!.test!.name, "chi2");
    assert.equal(report.prediction!.name, "p");
    assert.match(r.stdout, /Drift report for steady.*OK/);
    const prom = readFileSync(metrics, "utf8");
    assert.match(prom, /modelship_drift_verdict\{model="steady",verdict="ok",component="drift"\} 1/);
    assert.match(prom, /modelship_drift_feature_psi\{model="steady",feature="x1",component="drift"\} /);
  },
);

test(
  "a shifted window with a renamed field and worse feedback is drift, from a directory and from the collector URL",
  { timeout: 180_000 },
  async () => {
    const ndjson = writeWindow(events, "shifted", { n: 4000, shift: true, rename: true, feedbackFlip: 0.4 });
    const common = {
      baselineUri: baselineFile,
      model: "shifted",
      window: { since: new Date(UNTIL.getTime() - 3_600_000), until: UNTIL },
      thresholds: DEFAULT_THRESHOLDS,
      log,
      now: () => UNTIL,
    };
    const fromDir = await runDriftJob({ ...common, events: { kind: "dir", dir: events }, workers: 2 });
    assert.equal(fromDir.verdict, "drift");
    const byName = new Map(fromDir.features.map((f) => [f.name, f]));
    assert.equal(byName.get("x1")!.verdict, "drift");
    assert.equal(byName.get("color")!.verdict, "drift");
    assert.equal(byName.get("flag")!.verdict, "ok");
    assert.equal(fromDir.prediction!.verdict, "drift");
    const kinds = fromDir.integrity.issues.map((i) => `${i.kind}:${i.field ?? ""}`);
    assert.ok(kinds.includes("missing_field:x2"), kinds.join(","));
    assert.ok(kinds.includes("unexpected_field:x2_renamed"), kinds.join(","));
    assert.equal(fromDir.counts.feedback, 2000);
    assert.equal(fromDir.quality!.verdict, "drift", fromDir.quality!.reason);
    assert.equal(fromDir.quality!.window!.n, 2000);
    assert.equal(fromDir.quality!.unmatched, 0);
    assert.ok(fromDir.quality!.window!.accuracy! < fromDir.quality!.baseline!.accuracy! - 0.2);

    // The same events served by a collector-like endpoint give the same statistics.
    const seen: string[] = [];
    const server = createServer((req, res) => {
      seen.push(req.url ?? "");
      res.writeHead(200, { "content-type": "application/x-ndjson" });
      // Split mid-line to exercise re-chunking.
      res.write(ndjson.slice(0, 1001));
      setTimeout(() => res.end(ndjson.slice(1001)), 20);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const fromUrl = await runDriftJob({ ...common, events: { kind: "url", url }, workers: 0 });
      const u = new URL(seen[0]!, url);
      assert.equal(u.pathname, "/v1/events");
      assert.equal(u.searchParams.get("model"), "shifted");
      assert.equal(u.searchParams.get("since"), "2026-03-01T11:00:00.000Z");
      assert.equal(u.searchParams.get("until"), UNTIL.toISOString());
      const strip = (r: DriftReport) => ({
        ...r,
        durationMs: 0,
        counts: { ...r.counts, files: 0, schemaChecked: 0 },
      });
      // Sums differ in the last bits with the order values were added in (two workers vs inline).
      const noMean = (r: DriftReport) =>
        strip(r).features.map((f) => ({
          ...f,
          mean: f.mean === undefined ? undefined : Number(f.mean.toPrecision(12)),
        }));
      assert.deepEqual(noMean(fromUrl), noMean(fromDir));
      assert.deepEqual(strip(fromUrl).quality, strip(fromDir).quality);
      assert.equal(fromUrl.verdict, "drift");
    } finally {
      server.close();
    }
  },
);

test(
  "bad input: empty window, unreadable baseline, malformed events and bad flags are reported, not crashes",
  { timeout: 180_000 },
  async () => {
    const out = join(dir, "empty.json");
    mkdirSync(join(events, "quiet"), { recursive: true });
    const r = await cli([
      "drift",
      "--baseline",
      baselineFile,
      "--events",
      events,
      "--model",
      "quiet",
      "--until",
      UNTIL.toISOString(),
      "--out",
      out,
    ]);
    assert.equal(r.code, 1);
    const empty = JSON.parse(readFileSync(out, "utf8")) as DriftReport;
    assert.equal(empty.verdict, "error");
    assert.match(empty.reasons[0]!, /no inference events in the window/);
    assert.ok(empty.notEvaluated.length >= 4);

    const window = { since: new Date(UNTIL.getTime() - 3_600_000), until: UNTIL };
    const base = {
      model: "steady",
      window,
      thresholds: DEFAULT_THRESHOLDS,
      log,
      now: () => UNTIL,
      workers: 0,
    };
    const missing = await runDriftJob({
      ...base,
      baselineUri: join(dir, "nope.json"),
      events: { kind: "dir", dir: events },
    });
    assert.equal(missing.verdict, "error");
    assert.match(missing.reasons[0]!, /cannot read baseline .*nope\.json/);
    const badFile = join(dir, "bad-baseline.json");
    writeFileSync(
      badFile,
      JSON.stringify({ apiVersion: "modelship.io/v1alpha1", kind: "DriftBaseline", formatVersion: 1 }),
    );
    const bad = await runDriftJob({ ...base, baselineUri: badFile, events: { kind: "dir", dir: events } });
    assert.match(bad.reasons[0]!, /not a valid DriftBaseline/);
    const future = join(dir, "future-baseline.json");
    writeFileSync(future, JSON.stringify({ formatVersion: 9 }));
    assert.match(
      (await runDriftJob({ ...base, baselineUri: future, events: { kind: "dir", dir: events } })).reasons[0]!,
      /formatVersion 9/,
    );
    const noModel = await runDriftJob({
      ...base,
      baselineUri: baselineFile,
      model: "ghost",
      events: { kind: "dir", dir: events },
    });
    assert.match(noModel.reasons[0]!, /no events directory for model "ghost"/);

    // A window of events that do not match the schema: reported as invalid, with a sample.
    const junk = join(events, "junk", "2026-03-01", "11");
    mkdirSync(junk, { recursive: true });
    writeFileSync(
      join(junk, "a.ndjson"),
      '{"hello":1}\nnot json\n{"specversion":"1.0","type":"io.modelship.inference.v1"}\n',
    );
    const j = await runDriftJob({
      ...base,
      baselineUri: baselineFile,
      model: "junk",
      events: { kind: "dir", dir: events },
    });
    assert.equal(j.verdict, "error");
    assert.equal(j.counts.invalid, 3);
    assert.match(j.integrity.invalidSamples.join("\n"), /not JSON/);
    assert.match(j.integrity.invalidSamples.join("\n"), /does not match InferenceEvent v1/);

    const flags = await cli([
      "drift",
      "--baseline",
      baselineFile,
      "--events",
      events,
      "--model",
      "m",
      "--out",
      out,
      "--correction",
      "sidak",
    ]);
    assert.equal(flags.code, 2);
    assert.match(flags.stderr, /--correction must be one of holm, bonferroni, bh/);
    const win = await cli([
      "drift",
      "--baseline",
      baselineFile,
      "--events",
      events,
      "--model",
      "m",
      "--out",
      out,
      "--window",
      "soon",
    ]);
    assert.equal(win.code, 2);
    assert.match(win.stderr, /--window: "soon" is not a duration/);
  },
);

test(
  "gzip partitions, several hour partitions and a failing collector are read or reported",
  { timeout: 180_000 },
  async () => {
    const text = writeWindow(events, "zipped", { n: 600, shift: false });
    // Move the hour's events into two gzip files in two partitions (the window spans both hours).
    const lines = text.trim().split("\n");
    const a = join(events, "zipped", "2026-03-01", "11");
    const b = join(events, "zipped", "2026-03-01", "10");
    mkdirSync(b, { recursive: true });
    writeFileSync(join(a, "events-0.ndjson"), "");
    writeFileSync(join(a, "events-1.ndjson.gz"), gzipSync(lines.slice(0, 300).join("\n") + "\n"));
    const earlier = lines
      .slice(300)
      .map((l) => l.replace(/"time":"2026-03-01T11:/, '"time":"2026-03-01T10:'));
    writeFileSync(join(b, "events-0.ndjson.gz"), gzipSync(earlier.join("\n")));
    const common = {
      baselineUri: baselineFile,
      model: "zipped",
      thresholds: DEFAULT_THRESHOLDS,
      log,
      now: () => UNTIL,
      workers: 2,
    };
    const r = await runDriftJob({
      ...common,
      events: { kind: "dir", dir: events },
      window: { since: new Date(UNTIL.getTime() - 7_200_000), until: UNTIL },
    });
    assert.equal(r.counts.events, 600);
    assert.equal(r.counts.files, 3);
    assert.equal(r.verdict, "ok", r.reasons.join("; "));

    const server = createServer((_req, res) => res.writeHead(503).end("collector is starting"));
    await new Promise<void>((res) => server.listen(0, "127.0.0.1", res));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      const failed = await runDriftJob({
        ...common,
        events: { kind: "url", url },
        window: { since: new Date(UNTIL.getTime() - 3_600_000), until: UNTIL },
      });
      assert.equal(failed.verdict, "error");
      assert.match(
        failed.reasons[0]!,
        /cannot read events: GET .*\/v1\/events\?model=zipped.* answered 503: collector is starting/,
      );
    } finally {
      server.close();
    }
  },
);
