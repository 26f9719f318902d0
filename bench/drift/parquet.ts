// The drift bench on the Parquet archive: the same N events as `npm run bench:drift` (default 2,000,000;
// 32 numeric + 4 categorical features), written by the collector's archive writer into segments of
// --segment-events (default 40,000, about the 64 MiB the collector rotates at), then `modelship drift`
// over them (DuckDB) beside: the NDJSON byte scanner on the same events, DuckDB alone reading the numeric
// columns (the floor: what decoding costs, before any statistics), pandas.read_parquet + scipy on the same
// Parquet files, and pandas.read_json + scipy on the NDJSON (the reference of `bench:drift`). Results in
// bench/results/drift-parquet-<date>.json.
// Usage: node --import tsx bench/drift/parquet.ts [--events N] [--workers N] [--segment-events N] [--skip-json-ref]
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { openDuckDB, writeSegmentParquet } from "../../src/events/parquet-archive.js";
import { archiveKey } from "../../src/events/parquet-layout.js";
import { segmentLines } from "../../src/collector/read.js";
import { generate } from "./generate.js";

const { values } = parseArgs({
  options: {
    events: { type: "string" },
    workers: { type: "string" },
    dir: { type: "string" },
    rows: { type: "string" },
    "segment-events": { type: "string" },
    "skip-json-ref": { type: "boolean" },
  },
});
const events = Number(values.events ?? 2_000_000);
const workers = values.workers ?? "2";
const segmentEvents = Number(values["segment-events"] ?? 40_000);
const dir = values.dir ?? join(".cache", `bench-drift-${events}`);
const until = new Date("2026-01-01T01:00:00Z");
const node = [process.execPath, "--import", "tsx"];

function log(msg: string): void {
  process.stderr.write(`[bench:drift:parquet] ${msg}\n`);
}
const load = () =>
  loadavg()
    .map((x) => x.toFixed(1))
    .join(" ");
log(`${cpus().length} CPUs, load average ${load()}`);
const venv = execFileSync("bash", ["src/drift/testdata/ensure-pyenv.sh"], { encoding: "utf8" }).trim();
// pandas reads Parquet through pyarrow; the drift tests' venv does not need it otherwise
if (spawnSync(`${venv}/bin/python`, ["-c", "import pyarrow"]).status !== 0) {
  log("installing pyarrow into the reference venv ...");
  execFileSync(`${venv}/bin/pip`, ["install", "--quiet", "--disable-pip-version-check", "pyarrow"], {
    stdio: "inherit",
  });
}

// --- data: the NDJSON of bench:drift, then the archive writer's Parquet of the same lines -------------
if (!existsSync(join(dir, "ready"))) {
  log(`generating ${events} events into ${dir} ...`);
  mkdirSync(dir, { recursive: true });
  await generate({ out: dir, events, rows: Number(values.rows ?? 100_000), model: "bench", until });
  writeFileSync(join(dir, "ready"), String(events));
}
const baseline = join(dir, "baseline.json");
if (!existsSync(baseline)) {
  const r = spawnSync(
    node[0]!,
    [...node.slice(1), "bin/dev.ts", "baseline", "--data", join(dir, "train.csv"), "--out", baseline],
    { stdio: "inherit" },
  );
  if (r.status !== 0) throw new Error("baseline failed");
}
const ndjsonFiles: string[] = [];
const walk = (d: string, suffix: string, out: string[]) => {
  for (const n of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (n.isDirectory()) walk(join(d, n.name), suffix, out);
    else if (n.name.endsWith(suffix) && !n.name.startsWith(".")) out.push(join(d, n.name));
  }
};
walk(join(dir, "events", "bench"), ".ndjson", ndjsonFiles);
const archive = join(dir, `parquet-${segmentEvents}`);
if (!existsSync(join(archive, "ready"))) {
  log(`writing the events as Parquet, ${segmentEvents} events a segment, into ${archive} ...`);
  const conn = await (await openDuckDB({ threads: 1 })).connect();
  const started = performance.now();
  let seq = 0;
  for (const file of ndjsonFiles) {
    const [date, hour] = file.split("/").slice(-3, -1) as [string, string];
    let batch: string[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      const out = join(archive, archiveKey({ model: "bench", date, hour }, `${seq++}-bench-0.ndjson`));
      mkdirSync(join(out, ".."), { recursive: true });
      const lines = batch;
      batch = [];
      await writeSegmentParquet(
        conn,
        (async function* () {
          yield* lines;
        })(),
        out,
      );
    };
    for await (const line of segmentLines(file)) {
      batch.push(line);
      if (batch.length === segmentEvents) await flush();
    }
    await flush();
  }
  const seconds = (performance.now() - started) / 1000;
  log(
    `  archive writer: ${events} events in ${seconds.toFixed(1)} s (${Math.round(events / seconds)} events/s)`,
  );
  writeFileSync(join(archive, "ready"), JSON.stringify({ seconds }));
}
const parquetFiles: string[] = [];
walk(archive, ".parquet", parquetFiles);
const ndjsonBytes = ndjsonFiles.reduce((s, f) => s + statSync(f).size, 0);
const parquetBytes = parquetFiles.reduce((s, f) => s + statSync(f).size, 0);
const writer = JSON.parse(readFileSync(join(archive, "ready"), "utf8")) as { seconds: number };
log(
  `${parquetFiles.length} Parquet files, ${(parquetBytes / 1e9).toFixed(2)} GB (NDJSON ${(ndjsonBytes / 1e9).toFixed(2)} GB)`,
);

interface Run {
  events: number;
  seconds: number;
  peakRssMb: number;
  features?: Record<string, { psi: number; ks?: number; p: number }>;
}

function child(script: string, args: string[]): Run {
  const r = spawnSync(node[0]!, [...node.slice(1), script, ...args], {
    encoding: "utf8",
    maxBuffer: 1 << 26,
  });
  if (r.status !== 0) throw new Error(`${script} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as Run;
}

function drift(events: string, windowSec: number, out?: string): Run {
  const args = ["--baseline", baseline, "--events", events, "--until", until.toISOString()];
  args.push("--window", String(windowSec), "--workers", workers);
  if (out) args.push("--out", out);
  return child("bench/drift/job-child.ts", args);
}

function python(script: string, files: string[]): Run {
  const r = spawnSync(`${venv}/bin/python`, [script, baseline, ...files], {
    encoding: "utf8",
    maxBuffer: 1 << 26,
  });
  if (r.status !== 0) throw new Error(`${script} failed: ${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as Run;
}

const reportFile = join(dir, "report-parquet.json");
log(`modelship drift on Parquet (DuckDB), 1h window (all events), ${workers} workers ...`);
const full = drift(archive, 3600, reportFile);
log(`  ${full.events} events in ${full.seconds.toFixed(2)} s`);
log("modelship drift on Parquet, 6m window (a tenth of the events) ...");
const small = drift(archive, 360);
log(`  ${small.events} events in ${small.seconds.toFixed(2)} s`);
log(`modelship drift on the NDJSON (byte scanner), ${workers} workers ...`);
const scanner = drift(join(dir, "events"), 3600);
log(`  ${scanner.events} events in ${scanner.seconds.toFixed(2)} s`);
log(`DuckDB alone: read and sum the 32 numeric columns of the window, ${workers} threads (the floor) ...`);
const floor = child("bench/drift/duckdb-floor.ts", [
  "--threads",
  workers,
  "--until",
  until.toISOString(),
  archive,
]);
log(`  ${floor.events} events in ${floor.seconds.toFixed(2)} s`);
log(`load average ${load()}; pandas.read_parquet + scipy on the same Parquet files ...`);
const refParquet = python("bench/drift/pandas_parquet_ref.py", parquetFiles);
log(`  ${refParquet.events} events in ${refParquet.seconds.toFixed(1)} s`);
let refJson: Run | undefined;
if (!values["skip-json-ref"]) {
  log("pandas.read_json(lines) + scipy on the NDJSON (the bench:drift reference) ...");
  refJson = python("bench/drift/pandas_ref.py", ndjsonFiles);
  log(`  ${refJson.events} events in ${refJson.seconds.toFixed(1)} s`);
}

// Cross-check: the two pipelines computed the same statistics.
const report = JSON.parse(readFileSync(reportFile, "utf8")) as {
  features: { name: string; psi: number; test: { statistic: number; pValue: number } }[];
};
let maxPsiDiff = 0;
let maxStatDiff = 0;
for (const f of report.features) {
  const r = refParquet.features![f.name]!;
  maxPsiDiff = Math.max(maxPsiDiff, Math.abs(f.psi - r.psi));
  if (r.ks !== undefined) maxStatDiff = Math.max(maxStatDiff, Math.abs(f.test.statistic - r.ks));
}

const ev = (r: Run) => r.events / r.seconds;
const result = {
  date: new Date().toISOString(),
  cpus: cpus().length,
  loadAverageAfter: loadavg(),
  events,
  workers: Number(workers),
  segmentEvents,
  files: parquetFiles.length,
  parquetBytes,
  ndjsonBytes,
  archiveWriterEventsPerSecond: events / writer.seconds,
  modelshipParquet: { eventsPerSecond: ev(full), seconds: full.seconds, peakRssMb: full.peakRssMb },
  modelshipParquetSmallWindow: {
    events: small.events,
    eventsPerSecond: ev(small),
    seconds: small.seconds,
    peakRssMb: small.peakRssMb,
  },
  modelshipNdjsonScanner: {
    eventsPerSecond: ev(scanner),
    seconds: scanner.seconds,
    peakRssMb: scanner.peakRssMb,
  },
  duckdbFloor: { eventsPerSecond: ev(floor), seconds: floor.seconds, peakRssMb: floor.peakRssMb },
  pandasParquetScipy: {
    eventsPerSecond: ev(refParquet),
    seconds: refParquet.seconds,
    peakRssMb: refParquet.peakRssMb,
  },
  pandasJsonScipy: refJson && {
    eventsPerSecond: ev(refJson),
    seconds: refJson.seconds,
    peakRssMb: refJson.peakRssMb,
  },
  ratioToPandasParquet: ev(full) / ev(refParquet),
  ratioToPandasJson: refJson && ev(full) / ev(refJson),
  ratioToFloor: ev(full) / ev(floor),
  agreement: { maxPsiDiff, maxKsDiff: maxStatDiff },
};
mkdirSync("bench/results", { recursive: true });
const resultFile = `bench/results/drift-parquet-${result.date.replace(/[:.]/g, "-")}.json`;
writeFileSync(resultFile, JSON.stringify(result, null, 2) + "\n");
log(`wrote ${resultFile}`);
const row = (name: string, r: Run) =>
  `${name.padEnd(40)} ${String(r.events).padStart(9)} ${r.seconds.toFixed(2).padStart(8)} ${Math.round(ev(r)).toString().padStart(10)} ${Math.round(r.peakRssMb).toString().padStart(8)}`;
process.stdout.write(
  [
    `drift bench on Parquet: ${events} events, ${parquetFiles.length} files, ${(parquetBytes / 1e9).toFixed(2)} GB, ${cpus().length} CPUs, load average now ${load()}`,
    `${"pipeline".padEnd(40)} ${"events".padStart(9)} ${"seconds".padStart(8)} ${"events/s".padStart(10)} ${"peak MB".padStart(8)}`,
    row(`modelship drift, Parquet (${workers} workers, 1h)`, full),
    row(`modelship drift, Parquet (${workers} workers, 6m)`, small),
    row(`modelship drift, NDJSON scanner (${workers} w.)`, scanner),
    row(`DuckDB floor: sum numeric columns (${workers} thr.)`, floor),
    row("pandas read_parquet + scipy", refParquet),
    ...(refJson ? [row("pandas read_json + scipy (NDJSON)", refJson)] : []),
    `ratio modelship / DuckDB floor: ${result.ratioToFloor.toFixed(2)}x`,
    `ratio modelship / pandas read_parquet + scipy: ${result.ratioToPandasParquet.toFixed(1)}x` +
      (result.ratioToPandasJson !== undefined
        ? `; / pandas read_json + scipy: ${result.ratioToPandasJson.toFixed(1)}x`
        : ""),
    `max |PSI diff| ${maxPsiDiff.toExponential(2)}, max |KS D diff| ${maxStatDiff.toExponential(2)}`,
    `archive writer: ${Math.round(result.archiveWriterEventsPerSecond)} events/s (one thread)`,
    "",
  ].join("\n"),
);
