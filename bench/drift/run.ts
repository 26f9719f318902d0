// The drift bench: N logged events (default 2,000,000) with 32 numeric + 4 categorical features, end to
// end from files, `modelship drift` (worker threads) vs pandas.read_json(lines) + scipy on the same
// files, side by side in one run. Reports events/s, the ratio, and peak RSS at two window sizes.
// Usage: npm run bench:drift [-- --events N --workers N]
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { loadavg, cpus } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { generate } from "./generate.js";

const { values } = parseArgs({
  options: {
    events: { type: "string" },
    workers: { type: "string" },
    dir: { type: "string" },
    rows: { type: "string" },
  },
});
const events = Number(values.events ?? 2_000_000);
const workers = values.workers ?? "2";
const dir = values.dir ?? join(".cache", `bench-drift-${events}`);
const until = new Date("2026-01-01T01:00:00Z");
const node = [process.execPath, "--import", "tsx"];

function log(msg: string): void {
  process.stderr.write(`[bench:drift] ${msg}\n`);
}

const load = () =>
  loadavg()
    .map((x) => x.toFixed(1))
    .join(" ");
log(`${cpus().length} CPUs, load average ${load()}`);
const venv = execFileSync("bash", ["src/drift/testdata/ensure-pyenv.sh"], { encoding: "utf8" }).trim();

const marker = join(dir, "ready");
if (!existsSync(marker)) {
  log(`generating ${events} events into ${dir} ...`);
  mkdirSync(dir, { recursive: true });
  await generate({ out: dir, events, rows: Number(values.rows ?? 100_000), model: "bench", until });
  writeFileSync(marker, String(events));
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
const files: string[] = [];
const walk = (d: string) => {
  for (const n of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (n.isDirectory()) walk(join(d, n.name));
    else if (n.name.endsWith(".ndjson")) files.push(join(d, n.name));
  }
};
walk(join(dir, "events", "bench"));
const bytes = files.reduce((s, f) => s + statSync(f).size, 0);
log(`${files.length} files, ${(bytes / 1e9).toFixed(2)} GB`);

interface Run {
  events: number;
  seconds: number;
  peakRssMb: number;
  verdict?: string;
  invalid?: number;
  features?: Record<string, { psi: number; ks?: number; p: number }>;
}

function ours(windowSec: number, out?: string): Run {
  const args = [
    ...node.slice(1),
    "bench/drift/job-child.ts",
    "--baseline",
    baseline,
    "--events",
    join(dir, "events"),
    "--until",
    until.toISOString(),
    "--window",
    String(windowSec),
    "--workers",
    workers,
  ];
  if (out) args.push("--out", out);
  const r = spawnSync(node[0]!, args, { encoding: "utf8", maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`drift run failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as Run;
}

log(`modelship drift, 1h window (all events), ${workers} workers ...`);
const reportFile = join(dir, "report.json");
const full = ours(3600, reportFile);
log(`  ${full.events} events in ${full.seconds.toFixed(1)} s`);
log("modelship drift, 6m window (a tenth of the events) ...");
const small = ours(360);
log(`  ${small.events} events in ${small.seconds.toFixed(1)} s`);
log(
  `JSON.parse of every line and nothing else, ${workers} workers (the ceiling for object-building readers) ...`,
);
const ceilingRun = spawnSync(
  node[0]!,
  [...node.slice(1), "bench/drift/parse-ceiling.ts", "--workers", workers, ...files],
  {
    encoding: "utf8",
    maxBuffer: 1 << 26,
  },
);
if (ceilingRun.status !== 0) throw new Error(`parse ceiling failed: ${ceilingRun.stderr}`);
const ceiling = JSON.parse(ceilingRun.stdout.trim().split("\n").pop()!) as Run;
log(`  ${ceiling.events} events in ${ceiling.seconds.toFixed(1)} s`);
log(`load average ${load()}; pandas.read_json(lines) + scipy on the same files ...`);
const py = spawnSync(`${venv}/bin/python`, ["bench/drift/pandas_ref.py", baseline, ...files], {
  encoding: "utf8",
  maxBuffer: 1 << 26,
});
if (py.status !== 0) throw new Error(`pandas reference failed: ${py.stderr.slice(-2000)}`);
const ref = JSON.parse(py.stdout.trim().split("\n").pop()!) as Run;
log(`  ${ref.events} events in ${ref.seconds.toFixed(1)} s`);

// Cross-check: both pipelines computed the same statistics.
const report = JSON.parse(readFileSync(reportFile, "utf8")) as {
  features: { name: string; psi: number; test: { statistic: number; pValue: number } }[];
};
let maxPsiDiff = 0;
let maxStatDiff = 0;
for (const f of report.features) {
  const r = ref.features![f.name]!;
  maxPsiDiff = Math.max(maxPsiDiff, Math.abs(f.psi - r.psi));
  if (r.ks !== undefined) maxStatDiff = Math.max(maxStatDiff, Math.abs(f.test.statistic - r.ks));
}

const ev = (r: Run) => r.events / r.seconds;
const result = {
  date: new Date().toISOString(),
  cpus: cpus().length,
  loadAverageAfter: loadavg(),
  events,
  bytes,
  workers: Number(workers),
  modelship: { eventsPerSecond: ev(full), seconds: full.seconds, peakRssMb: full.peakRssMb },
  modelshipSmallWindow: {
    events: small.events,
    eventsPerSecond: ev(small),
    seconds: small.seconds,
    peakRssMb: small.peakRssMb,
  },
  jsonParseOnly: { eventsPerSecond: ev(ceiling), seconds: ceiling.seconds, peakRssMb: ceiling.peakRssMb },
  pandasScipy: { eventsPerSecond: ev(ref), seconds: ref.seconds, peakRssMb: ref.peakRssMb },
  ratio: ev(full) / ev(ref),
  ratioToJsonParseOnly: ev(full) / ev(ceiling),
  agreement: { maxPsiDiff, maxKsDiff: maxStatDiff },
};
mkdirSync("bench/results", { recursive: true });
writeFileSync("bench/results/drift.json", JSON.stringify(result, null, 2) + "\n");
const row = (name: string, r: Run) =>
  `${name.padEnd(34)} ${String(r.events).padStart(9)} ${r.seconds.toFixed(1).padStart(8)} ${Math.round(ev(r)).toString().padStart(10)} ${Math.round(r.peakRssMb).toString().padStart(8)}`;
process.stdout.write(
  [
    `drift bench: ${events} events, ${(bytes / 1e9).toFixed(2)} GB, ${cpus().length} CPUs, load average now ${load()}`,
    `${"pipeline".padEnd(34)} ${"events".padStart(9)} ${"seconds".padStart(8)} ${"events/s".padStart(10)} ${"peak MB".padStart(8)}`,
    row(`modelship drift (${workers} workers, 1h)`, full),
    row(`modelship drift (${workers} workers, 6m)`, small),
    row(`JSON.parse only (${workers} workers)`, ceiling),
    row("pandas read_json + scipy", ref),
    `ratio modelship / JSON.parse only: ${result.ratioToJsonParseOnly.toFixed(2)}x`,
    `ratio modelship / pandas: ${result.ratio.toFixed(2)}x; max |PSI diff| ${maxPsiDiff.toExponential(2)}, max |KS D diff| ${maxStatDiff.toExponential(2)}`,
    "",
  ].join("\n"),
);
