// The batch bench: rows/s of `modelship batch` over one input with 1, 2 and 4 shards, the shards run as
// processes side by side (as an Indexed Job's pods run), each with one inference worker and one
// onnxruntime thread, from start to the merged output. Files (JSONL in and out) always; with --sql also
// a PostgreSQL table in and out (scripts/postgres.sh). Each figure is the median of --reps rounds,
// shard counts interleaved within a round; every round's output is checked against the 1-shard output.
// Usage: npm run bench:batch [-- --rows N --reps N --sql]
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import pg from "pg";
import { mlpModel, seededRandom, writeModel } from "../../src/testing/onnx/builders.js";

const { values } = parseArgs({
  options: {
    rows: { type: "string" },
    reps: { type: "string" },
    features: { type: "string" },
    sql: { type: "boolean" },
    dir: { type: "string" },
  },
});
const rows = Number(values.rows ?? 200_000);
const reps = Number(values.reps ?? 3);
const features = Number(values.features ?? 32);
const shardCounts = [1, 2, 4];
const dir = values.dir ?? join(".cache", `bench-batch-${rows}x${features}`);
const build = join(".cache", "bench-batch-build");
// the compiled build, as the image runs it (bin/modelship.js on dist/): tsx's start-up would be counted
// once per shard otherwise
const launcher = join(build, "modelship.mjs");
const node = [process.execPath, launcher, "batch"];

function log(msg: string): void {
  process.stderr.write(`[bench:batch] ${msg}\n`);
}
const load = () =>
  loadavg()
    .map((x) => x.toFixed(1))
    .join(" ");
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

log(`compiling src into ${build}`);
execFileSync(
  process.execPath,
  ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json", "--outDir", build],
  {
    stdio: "inherit",
  },
);
writeFileSync(
  launcher,
  [
    'import { main } from "./cmd/main.js";',
    // CPU time of all the process's threads (main, inference worker, onnxruntime), for the bench
    'process.on("exit", () => { const u = process.cpuUsage(); process.stderr.write(`bench-cpu-us ${u.user + u.system}\\n`); });',
    "process.exitCode = await main(process.argv.slice(2));",
    "",
  ].join("\n"),
);
mkdirSync(dir, { recursive: true });
const modelPath = join(dir, "mlp.onnx");
const input = join(dir, "rows.jsonl");
if (!existsSync(input)) {
  log(`generating ${rows} rows of ${features} features into ${input}`);
  writeModel(mlpModel({ layers: [features, 256, 256, 8], seed: 11 }), dir, "mlp.onnx");
  const rand = seededRandom(5);
  const lines: string[] = [];
  for (let i = 0; i < rows; i++)
    lines.push(
      JSON.stringify({
        id: i,
        input: Array.from({ length: features }, () => Math.round(rand() * 1e4) / 1e4),
      }),
    );
  writeFileSync(input, lines.join("\n") + "\n");
}

interface Round {
  wallSeconds: number;
  /** CPU seconds of all shard processes together. */
  cpuSeconds: number;
  /** The slowest shard's own time (model load to its part committed, or to the merge for the last). */
  slowestShardSeconds: number;
}

/** Runs one batch run as `shards` processes side by side; resolves with the wall time. */
async function runShards(shards: number, runId: string, args: (i: number) => string[]): Promise<Round> {
  const started = performance.now();
  const results = await Promise.all(
    Array.from({ length: shards }, (_, i) => {
      const p = spawn(
        node[0]!,
        [
          ...node.slice(1),
          "--model",
          `mlp=${modelPath}`,
          "--batch-size",
          "1024",
          "--workers",
          "1",
          "--intra-op-threads",
          "1",
          "--run-id",
          runId,
          "--shards",
          String(shards),
          "--shard-index",
          String(i),
          ...args(i),
        ],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      let out = "";
      let err = "";
      p.stdout.on("data", (d) => (out += d));
      p.stderr.on("data", (d) => (err += d));
      return new Promise<{ out: string; cpu: number }>((resolve, reject) =>
        p.on("close", (code) =>
          code === 0
            ? resolve({ out, cpu: Number(/bench-cpu-us (\d+)/.exec(err)?.[1] ?? NaN) / 1e6 })
            : reject(new Error(`shard ${i} exited ${code}: ${err.slice(-2000)}`)),
        ),
      );
    }),
  );
  const wallSeconds = (performance.now() - started) / 1000;
  const own = results.map((r) => Number(/ in ([\d.]+) s /.exec(r.out)?.[1] ?? NaN));
  if (!results.some((r) => /^run .*: Succeeded/m.test(r.out))) throw new Error("no shard finalised the run");
  return {
    wallSeconds,
    cpuSeconds: results.reduce((sum, r) => sum + r.cpu, 0),
    slowestShardSeconds: Math.max(...own),
  };
}

interface Figures {
  shards: number;
  wallSeconds: number[];
  rowsPerSec: number;
  ratio: number;
  slowestShardRowsPerSec: number;
  /** CPU milliseconds per 1000 rows, all shards together: what sharding costs in work, whatever the load. */
  cpuMsPer1kRows: number;
}

async function bench(
  name: string,
  round: (shards: number, runId: string) => Promise<Round>,
  check: (shards: number) => Promise<void>,
): Promise<Figures[]> {
  const by = new Map<number, Round[]>(shardCounts.map((s) => [s, []]));
  for (let r = 0; r < reps + 1; r++) {
    // round 0 warms the page cache and the compile cache; rotate the order so no count always goes first
    const order = shardCounts.map((_, i) => shardCounts[(i + r) % shardCounts.length]!);
    for (const shards of order) {
      const res = await round(shards, `bench-${name}-${r}-${shards}`);
      await check(shards);
      log(
        `${name} round ${r}${r === 0 ? " (warm-up)" : ""}: ${shards} shard(s) ${res.wallSeconds.toFixed(2)} s, load ${load()}`,
      );
      if (r > 0) by.get(shards)!.push(res);
    }
  }
  const base = rows / median(by.get(1)!.map((x) => x.wallSeconds));
  return shardCounts.map((shards) => {
    const rs = by.get(shards)!;
    const rowsPerSec = rows / median(rs.map((x) => x.wallSeconds));
    return {
      shards,
      wallSeconds: rs.map((x) => Number(x.wallSeconds.toFixed(3))),
      rowsPerSec: Math.round(rowsPerSec),
      ratio: Number((rowsPerSec / base).toFixed(2)),
      slowestShardRowsPerSec: Math.round(rows / median(rs.map((x) => x.slowestShardSeconds))),
      cpuMsPer1kRows: Math.round((median(rs.map((x) => x.cpuSeconds)) * 1e6) / rows),
    };
  });
}

log(
  `${cpus().length} CPUs, load average ${load()}; ${rows} rows x ${features} features, MLP ${features}-256-256-8`,
);
const results: Record<string, Figures[]> = {};

// --- files: JSONL in, JSONL out
const reference = join(dir, "reference.jsonl");
const fileOut = join(dir, "out.jsonl");
results.files = await bench(
  "files",
  async (shards, runId) => {
    const r = await runShards(shards, runId, () => ["--input", input, "--output", fileOut]);
    return r;
  },
  async (shards) => {
    if (shards === 1 && !existsSync(reference)) writeFileSync(reference, readFileSync(fileOut));
    if (!readFileSync(fileOut).equals(readFileSync(reference)))
      throw new Error(`${shards} shards wrote another output than 1 shard`);
  },
);

// --- PostgreSQL: a table in, a table out
if (values.sql) {
  const started = execFileSync("bash", ["scripts/postgres.sh", "start", "--watch", String(process.pid)], {
    encoding: "utf8",
  });
  const v = Object.fromEntries(
    started
      .split("\n")
      .map((l) => /^([A-Z_]+)=(.*)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1]!, m[2]!]),
  );
  const config = {
    host: v.HOST,
    port: Number(v.PORT),
    user: v.USER,
    password: v.PASSWORD,
    database: v.DATABASE,
  };
  const secret = join(dir, "pg-secret");
  mkdirSync(secret, { recursive: true });
  for (const [k, val] of Object.entries({
    host: v.HOST!,
    port: v.PORT!,
    dbname: v.DATABASE!,
    user: v.USER!,
    password: v.PASSWORD!,
  }))
    writeFileSync(join(secret, k), val);
  const db = new pg.Client(config);
  await db.connect();
  try {
    log(`loading ${rows} rows into PostgreSQL (pid ${v.PID}, fsync on)`);
    await db.query("CREATE TABLE rows (id bigint PRIMARY KEY, input real[])");
    const lines = readFileSync(input, "utf8").trim().split("\n");
    for (let i = 0; i < lines.length; i += 20_000) {
      await db.query(
        "INSERT INTO rows SELECT * FROM json_to_recordset($1::json) AS r(id bigint, input real[])",
        [`[${lines.slice(i, i + 20_000).join(",")}]`],
      );
    }
    await db.query("ANALYZE rows");
    results.postgresql = await bench(
      "postgresql",
      (shards, runId) =>
        runShards(shards, runId, () => [
          "--input-sql",
          "SELECT id, input FROM rows",
          "--input-connection",
          secret,
          "--output-table",
          "predictions",
        ]),
      async (shards) => {
        const r = await db.query<{ n: string }>(
          "SELECT count(*) AS n FROM predictions WHERE run_id = (SELECT run_id FROM predictions_runs ORDER BY finished_at DESC LIMIT 1)",
        );
        if (Number(r.rows[0]!.n) !== rows)
          throw new Error(`${shards} shards: ${r.rows[0]!.n} predictions, want ${rows}`);
      },
    );
  } finally {
    await db.end();
    execFileSync("bash", ["scripts/postgres.sh", "stop", v.PID!]);
    rmSync(v.DIR!, { recursive: true, force: true });
  }
}

for (const [name, figures] of Object.entries(results)) {
  process.stdout.write(`\n${name}: ${rows} rows, median of ${reps} rounds\n`);
  process.stdout.write(
    "shards  wall s (rounds)              rows/s   vs 1 shard   slowest shard's rows/s   CPU ms per 1k rows\n",
  );
  for (const f of figures)
    process.stdout.write(
      `${String(f.shards).padEnd(8)}${f.wallSeconds.join(", ").padEnd(28)}${String(f.rowsPerSec).padStart(7)}   ${f.ratio.toFixed(2).padStart(6)}x     ${String(f.slowestShardRowsPerSec).padStart(10)}               ${f.cpuMsPer1kRows}\n`,
    );
}
mkdirSync("bench/results", { recursive: true });
const file = join("bench/results", `batch-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
writeFileSync(
  file,
  JSON.stringify(
    { rows, features, reps, cpus: cpus().length, loadAverageAfter: loadavg(), results },
    null,
    2,
  ) + "\n",
);
log(`wrote ${file}`);
