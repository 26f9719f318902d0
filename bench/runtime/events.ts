// serve with its own event log on vs off, side by side in one run, as deployed: the events go over HTTP to
// a real collector process (`modelship collector`), as in a cluster. Same MLP model, same closed-loop load
// (c16), rounds interleaved. serve runs pinned to cpu 0, the collector and the load on cpu 1 (taskset,
// when present), so the server's CPU per request is what decides its throughput. Afterwards every
// answered request's event is counted, once, in the collector's store.
// Usage: npm run bench:events [-- --seconds 5 --rounds 3]
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { cpuSeconds, freePort, median } from "./procs.js";
import { mlpModel, writeModel } from "../../src/testing/onnx/builders.js";

const root = join(import.meta.dirname, "../..");
const { values } = parseArgs({ options: { seconds: { type: "string" }, rounds: { type: "string" } } });
const seconds = Number(values.seconds ?? 5);
const rounds = Number(values.rounds ?? 3);
const dir = mkdtempSync(join(tmpdir(), "modelship-bench-events-"));

interface Load {
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  /** Server CPU (all threads, user + system) per answered request, microseconds. */
  cpuUs?: number;
}

const pinned = spawnSync("taskset", ["-c", "0", "true"]).status === 0;
/** The command pinned to one cpu (taskset execs it, so the pid stays the program's). */
const pin = (cpu: string, args: string[]): [string, string[]] =>
  pinned ? ["taskset", ["-c", cpu, process.execPath, ...args]] : [process.execPath, args];

async function waitReady(url: string): Promise<void> {
  for (let i = 0; i < 1200; i++) {
    if ((await fetch(url).catch(() => undefined))?.status === 200) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not become ready`);
}

async function start(extra: string[]): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const model = writeModel(mlpModel({ layers: [256, 512, 512, 10], seed: 1 }), dir, `mlp-${port}.onnx`);
  const args = ["--import", "tsx", "bin/dev.ts", "serve", "--model", `mlp=${model}`, "--port", String(port)];
  const [cmd, argv] = pin("0", [
    ...args,
    "--host",
    "127.0.0.1",
    "--grpc-port",
    "off",
    "--workers",
    "1",
    "--intra-op-threads",
    "1",
    "--log-level",
    "warn",
    ...extra,
  ]);
  const child = spawn(cmd, argv, { cwd: root, stdio: "ignore" });
  const url = `http://127.0.0.1:${port}`;
  await waitReady(`${url}/v2/health/ready`);
  return { child, url };
}

async function startCollector(dataDir: string): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const [cmd, argv] = pin("1", [
    "--import",
    "tsx",
    "bin/dev.ts",
    "collector",
    "--data-dir",
    dataDir,
    "--listen",
    `127.0.0.1:${port}`,
    "--log-level",
    "warn",
  ]);
  const child = spawn(cmd, argv, { cwd: root, stdio: "ignore" });
  const url = `http://127.0.0.1:${port}`;
  await waitReady(`${url}/readyz`);
  return { child, url };
}

function load(server: { child: ChildProcess; url: string }, body: string): Promise<Load> {
  const args = [
    "--import",
    "tsx",
    "bench/runtime/load.ts",
    `${server.url}/v2/models/mlp/infer`,
    "POST",
    "16",
  ];
  const [cmd, argv] = pin("1", [...args, String(seconds), body]);
  const pid = server.child.pid!;
  const cpu0 = cpuSeconds(pid);
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, argv, { cwd: root });
    let out = "";
    c.stdout.on("data", (d: Buffer) => (out += d.toString()));
    c.on("exit", (code) => {
      if (code !== 0) return reject(new Error(`load ${code}`));
      const l = JSON.parse(out) as Load;
      resolve({ ...l, cpuUs: ((cpuSeconds(pid) - cpu0) * 1e6) / Math.max(1, l.requests) });
    });
  });
}

async function stop(child: ChildProcess): Promise<void> {
  const done = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await done;
}

/** Events the collector stored: DIR/<model>/<date>/<hour>/*.ndjson (it keeps each id once). */
function countEvents(sink: string): number {
  let n = 0;
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith(".ndjson")) n += readFileSync(p, "utf8").split("\n").filter(Boolean).length;
    }
  };
  walk(sink);
  return n;
}

const bodyFile = join(dir, "body.json");
const row = Array.from({ length: 256 }, (_, i) => Math.sin(i));
writeFileSync(
  bodyFile,
  JSON.stringify({ inputs: [{ name: "input", datatype: "FP32", shape: [1, 256], data: row }] }),
);
const store = join(dir, "store");
const collector = await startCollector(store);
const off = await start([]);
const on = await start(["--sink", collector.url, "--spool-dir", join(dir, "spool"), "--revision", "bench"]);
const results: { off: Load[]; on: Load[] } = { off: [], on: [] };
// round 0 warms both servers up (JIT, first batches); its figures are not counted, its events are
const warm: Load[] = [];
for (let r = 0; r <= rounds; r++) {
  for (const [name, s] of [
    ["off", off],
    ["on", on],
  ] as const) {
    const res = await load(s, bodyFile);
    (r === 0 ? warm : results[name]).push(res);
    process.stderr.write(
      `[bench:events] ${r === 0 ? "warm-up" : `round ${r}/${rounds}`} logging ${name}: ` +
        `${Math.round(res.rps)} rps, server cpu ${Math.round(res.cpuUs!)} us/req\n`,
    );
  }
}
await stop(off.child);
await stop(on.child); // drains the spool into the collector before it exits
await stop(collector.child);
const answered = results.on.reduce((n, l) => n + l.requests, warm[1]!.requests);
const stored = countEvents(store);
const cpuOff = median(results.off.map((l) => l.cpuUs!));
const cpuOn = median(results.on.map((l) => l.cpuUs!));
const summary = {
  model: "MLP 256-512-512-10, JSON, c16",
  setup: pinned
    ? "serve on cpu 0; collector and load on cpu 1"
    : "taskset missing: NOT pinned (figures share both cores)",
  seconds,
  rounds,
  rpsOff: median(results.off.map((l) => l.rps)),
  rpsOn: median(results.on.map((l) => l.rps)),
  p50Off: median(results.off.map((l) => l.p50)),
  p50On: median(results.on.map((l) => l.p50)),
  ratio: median(results.on.map((l) => l.rps)) / median(results.off.map((l) => l.rps)),
  cpuUsPerReqOff: cpuOff,
  cpuUsPerReqOn: cpuOn,
  eventCpuUs: cpuOn - cpuOff,
  answered,
  stored,
  lost: answered - stored,
  target: "ratio >= 0.9, lost 0",
};
const out = join(root, "bench/results", `events-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
mkdirSync(join(root, "bench/results"), { recursive: true });
writeFileSync(out, JSON.stringify(summary, null, 2) + "\n");
console.log(JSON.stringify(summary, null, 2));
process.stderr.write(`[bench:events] wrote ${out}\n`);
