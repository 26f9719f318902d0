// bench/runtime: the model server against baselines measured side by side in the same run.
// Server processes are pinned to one core (taskset), load generators to the other. Every figure is the
// median of REPS runs. Usage: npm run bench:runtime   (env: BENCH_REPS, BENCH_SECONDS, BENCH_SKIP_PEER=1)
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { mlpModel, seededRandom, tempDir, writeModel } from "../../src/testing/onnx/builders.js";

const REPS = Number(process.env.BENCH_REPS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const SERVER_CPU = process.env.BENCH_SERVER_CPU ?? "0";
const LOAD_CPU = process.env.BENCH_LOAD_CPU ?? "1";
const pinned = spawnSync("taskset", ["-c", "0", "true"]).status === 0;
const root = process.cwd();
const dir = tempDir("modelship-bench-");

interface LoadResult {
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  statuses: Record<string, number>;
}

function pin(cpu: string, cmd: string, args: string[]): [string, string[]] {
  return pinned ? ["taskset", ["-c", cpu, cmd, ...args]] : [cmd, args];
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function waitHttp(url: string, child: ChildProcess, seconds = 120): Promise<void> {
  for (let i = 0; i < seconds * 10; i++) {
    if (child.exitCode !== null) throw new Error(`${url}: server exited with ${child.exitCode}`);
    try {
      if ((await fetch(url)).status === 200) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} not ready after ${seconds} s`);
}

function startServer(cmd: string, args: string[]): ChildProcess {
  const [c, a] = pin(SERVER_CPU, cmd, args);
  // taskset execs the command, so the child's pid is the server's.
  measured = spawn(c, a, { stdio: ["ignore", "ignore", "inherit"], cwd: root });
  return measured;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const done = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  const t = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await done;
  clearTimeout(t);
}

function runLoad(
  url: string,
  method: string,
  concurrency: number,
  seconds: number,
  body?: string,
): Promise<LoadResult> {
  const args = [
    "--import",
    "tsx",
    join(root, "bench/runtime/load.ts"),
    url,
    method,
    String(concurrency),
    String(seconds),
  ];
  if (body) args.push(body);
  const [c, a] = pin(LOAD_CPU, process.execPath, args);
  return new Promise((resolve, reject) => {
    const child = spawn(c, a, { stdio: ["ignore", "pipe", "inherit"], cwd: root });
    let out = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    child.on("exit", (code) =>
      code === 0 ? resolve(JSON.parse(out) as LoadResult) : reject(new Error(`load exited ${code}`)),
    );
  });
}

/** CPU seconds (user + system, all threads) a process has used so far, from /proc. */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined || !existsSync(`/proc/${pid}/stat`)) return NaN;
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** The server process being measured, so each figure can also report its CPU time per request. */
let measured: ChildProcess | undefined;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Figure {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  /** Server CPU time per answered request, in microseconds: robust to a noisy shared machine. */
  cpuUsPerReq: number;
}

async function repeat(label: string, fn: () => Promise<LoadResult>): Promise<Figure> {
  await fn(); // warm-up run, not counted
  const runs: (LoadResult & { cpuUs: number })[] = [];
  for (let i = 0; i < REPS; i++) {
    const c0 = cpuSeconds(measured?.pid);
    const r = await fn();
    runs.push({ ...r, cpuUs: ((cpuSeconds(measured?.pid) - c0) * 1e6) / Math.max(1, r.requests) });
  }
  const r = {
    rps: median(runs.map((x) => x.rps)),
    p50: median(runs.map((x) => x.p50)),
    p99: median(runs.map((x) => x.p99)),
    errors: runs.reduce((n, x) => n + x.errors, 0),
    cpuUsPerReq: median(runs.map((x) => x.cpuUs)),
  };
  console.log(
    `  ${label.padEnd(44)} rps ${r.rps.toFixed(0).padStart(6)}  p50 ${r.p50.toFixed(3)} ms  p99 ${r.p99.toFixed(3)} ms  ` +
      `server cpu ${r.cpuUsPerReq.toFixed(0)} us/req  errors ${r.errors}`,
  );
  return r;
}

// --- setup -----------------------------------------------------------------------------------------
const modelPath = writeModel(mlpModel({ layers: [256, 512, 512, 10], seed: 1 }), dir, "mlp.onnx");
const rand = seededRandom(2);
const bodyPath = join(dir, "body.json");
writeFileSync(
  bodyPath,
  JSON.stringify({
    inputs: [
      {
        name: "input",
        datatype: "FP32",
        shape: [1, 256],
        data: Array.from({ length: 256 }, () => rand() * 2 - 1),
      },
    ],
  }),
);
console.log(
  `bench/runtime: MLP 256-512-512-10 float32, ${REPS} runs x ${SECONDS} s per figure (median), ` +
    (pinned ? `servers on cpu ${SERVER_CPU}, load on cpu ${LOAD_CPU}` : "taskset missing: NOT pinned"),
);
const results: Record<string, unknown> = { reps: REPS, seconds: SECONDS, pinned };

// --- baselines -------------------------------------------------------------------------------------
console.log("baselines");
const helloPort = await freePort();
const hello = startServer(process.execPath, ["--import", "tsx", "bench/runtime/hello.ts", String(helloPort)]);
const helloUrl = `http://127.0.0.1:${helloPort}/`;
await waitHttp(helloUrl, hello);
const hello1 = await repeat("node:http hello-world, concurrency 1", () =>
  runLoad(helloUrl, "GET", 1, SECONDS),
);
const hello16 = await repeat("node:http hello-world, concurrency 16", () =>
  runLoad(helloUrl, "GET", 16, SECONDS),
);
await stop(hello);

const raws: number[] = [];
for (let i = 0; i < REPS; i++) {
  const [c, a] = pin(SERVER_CPU, process.execPath, [
    "--import",
    "tsx",
    "bench/runtime/raw-run.ts",
    modelPath,
    "2000",
  ]);
  const r = spawnSync(c, a, { cwd: root, encoding: "utf8" });
  raws.push((JSON.parse(r.stdout) as { p50: number }).p50);
}
const rawP50 = median(raws);
console.log(`  ${"in-process session.run, batch 1".padEnd(44)} p50 ${rawP50.toFixed(3)} ms`);

// --- modelship serve -------------------------------------------------------------------------------
async function withServe<T>(extra: string[], fn: (url: string) => Promise<T>, model = modelPath): Promise<T> {
  const port = await freePort();
  const child = startServer(process.execPath, [
    "--import",
    "tsx",
    "bin/dev.ts",
    "serve",
    "--model",
    `mlp=${model}`,
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
    "--workers",
    "1",
    "--intra-op-threads",
    "1",
    "--log-level",
    "warn",
    ...extra,
  ]);
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitHttp(`${url}/v2/health/ready`, child);
    return await fn(url);
  } finally {
    await stop(child);
  }
}

console.log("modelship serve (1 worker, 1 intra-op thread; default batching: max 32, no added delay)");
const ours = await withServe([], async (url) => {
  const infer = `${url}/v2/models/mlp/infer`;
  const c1 = await repeat("/infer, concurrency 1", () => runLoad(infer, "POST", 1, SECONDS, bodyPath));
  const c16 = await repeat("/infer, concurrency 16", () => runLoad(infer, "POST", 16, SECONDS, bodyPath));
  const c32 = await repeat("/infer, concurrency 32 (batched)", () =>
    runLoad(infer, "POST", 32, SECONDS, bodyPath),
  );
  const idle = await repeat("/v2/health/ready idle, concurrency 1", () =>
    runLoad(`${url}/v2/health/ready`, "GET", 1, SECONDS),
  );
  const busy = await repeat("/v2/health/ready under /infer c32 load", async () => {
    const [probe] = await Promise.all([
      runLoad(`${url}/v2/health/ready`, "GET", 1, SECONDS),
      runLoad(infer, "POST", 32, SECONDS + 1, bodyPath),
    ]);
    return probe;
  });
  return { c1, c16, c32, idle, busy };
});
const unbatched = await withServe(["--max-batch-size", "1"], async (url) =>
  repeat("/infer, concurrency 32, --max-batch-size 1", () =>
    runLoad(`${url}/v2/models/mlp/infer`, "POST", 32, SECONDS, bodyPath),
  ),
);
// The same comparison where inference, not HTTP + JSON, dominates a request: a wider MLP.
const heavyPath = writeModel(mlpModel({ layers: [256, 2048, 2048, 10], seed: 3 }), dir, "mlp-heavy.onnx");
console.log("modelship serve, heavier MLP 256-2048-2048-10 (inference dominates)");
const heavyBatched = await withServe(
  [],
  (url) =>
    repeat("/infer, concurrency 32 (batched)", () =>
      runLoad(`${url}/v2/models/mlp/infer`, "POST", 32, SECONDS, bodyPath),
    ),
  heavyPath,
);
const heavyUnbatched = await withServe(
  ["--max-batch-size", "1"],
  (url) =>
    repeat("/infer, concurrency 32, --max-batch-size 1", () =>
      runLoad(`${url}/v2/models/mlp/infer`, "POST", 32, SECONDS, bodyPath),
    ),
  heavyPath,
);
Object.assign(results, { hello1, hello16, rawP50, ours, unbatched, heavyBatched, heavyUnbatched });

// --- peer: KServe Python model server ----------------------------------------------------------------
let peer: { c1: unknown; c16: { rps: number } } | { unavailable: string } = {
  unavailable: "skipped (BENCH_SKIP_PEER=1)",
};
if (process.env.BENCH_SKIP_PEER !== "1") {
  const venv = join(root, ".cache/bench-runtime-venv");
  const py = join(venv, "bin/python");
  if (!existsSync(py) || spawnSync(py, ["-c", "import kserve, onnxruntime"]).status !== 0) {
    console.log("creating the KServe venv (python3 -m venv + pip install kserve onnxruntime numpy) ...");
    mkdirSync(join(root, ".cache"), { recursive: true });
    const mk = spawnSync("python3", ["-m", "venv", venv], { stdio: "inherit" });
    const pip =
      mk.status === 0
        ? spawnSync(join(venv, "bin/pip"), ["install", "--quiet", "kserve", "onnxruntime", "numpy"], {
            stdio: "inherit",
          })
        : mk;
    if (pip.status !== 0) peer = { unavailable: "pip install kserve onnxruntime failed" };
  }
  if (!("unavailable" in peer) || peer.unavailable.startsWith("skipped")) {
    const port = await freePort();
    const child = startServer(py, [
      "bench/runtime/kserve_model.py",
      "--model_path",
      modelPath,
      "--port",
      String(port),
    ]);
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitHttp(`${url}/v2/models/mlp/ready`, child);
      const v = spawnSync(
        py,
        [
          "-c",
          "import kserve, onnxruntime; print(kserve.__version__ if hasattr(kserve,'__version__') else '?', onnxruntime.__version__)",
        ],
        { encoding: "utf8" },
      );
      console.log(
        `KServe Python model server (kserve/onnxruntime ${v.stdout.trim()}, 1 worker, 1 intra-op thread)`,
      );
      const infer = `${url}/v2/models/mlp/infer`;
      const c1 = await repeat("/infer, concurrency 1", () => runLoad(infer, "POST", 1, SECONDS, bodyPath));
      const c16 = await repeat("/infer, concurrency 16", () => runLoad(infer, "POST", 16, SECONDS, bodyPath));
      if (!(c16.rps > 0)) throw new Error(`every request failed (${c16.errors} errors)`);
      peer = { c1, c16 };
    } catch (err) {
      peer = { unavailable: `KServe server failed: ${(err as Error).message}` };
    } finally {
      await stop(child);
    }
  }
}
results.peer = peer;

// --- ratios ------------------------------------------------------------------------------------------
const rows: [string, number, string, boolean][] = [];
const c1Ratio = ours.c1.p50 / (hello1.p50 + rawP50);
rows.push(["c1 p50 / (hello p50 + session.run p50)", c1Ratio, "<= 1.3", c1Ratio <= 1.3]);
const c16Ratio = ours.c16.rps / hello16.rps;
rows.push(["c16 rps / hello-world c16 rps", c16Ratio, ">= 0.55", c16Ratio >= 0.55]);
const batchRatio = ours.c32.rps / unbatched.rps;
rows.push(["c32 batched rps / unbatched rps", batchRatio, ">= 3", batchRatio >= 3]);
const batchP50 = ours.c32.p50 / unbatched.p50;
rows.push(["c32 batched p50 / unbatched p50", batchP50, "<= 1", batchP50 <= 1]);
const heavyRatio = heavyBatched.rps / heavyUnbatched.rps;
rows.push(["heavy MLP: c32 batched rps / unbatched rps", heavyRatio, ">= 3", heavyRatio >= 3]);
const healthRatio = ours.busy.p99 / ours.idle.p99;
rows.push(["ready p99 under load / idle p99", healthRatio, "<= 2", healthRatio <= 2]);
if (!("unavailable" in peer)) {
  const peerRatio = ours.c16.rps / peer.c16.rps;
  rows.push(["c16 rps / KServe c16 rps", peerRatio, ">= 3", peerRatio >= 3]);
} else console.log(`peer: ${peer.unavailable}`);
console.log("\nratios (one run; the machine may be shared, so read them as indicative)");
for (const [name, v, target, ok] of rows)
  console.log(
    `  ${name.padEnd(44)} ${v.toFixed(2).padStart(7)}   target ${target.padEnd(8)} ${ok ? "met" : "NOT met"}`,
  );
results.ratios = Object.fromEntries(rows.map(([n, v, t, ok]) => [n, { value: v, target: t, met: ok }]));
mkdirSync(join(root, "bench/results"), { recursive: true });
const out = join(root, "bench/results", `runtime-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
writeFileSync(out, JSON.stringify(results, null, 2));
console.log(`\nwrote ${out}`);
