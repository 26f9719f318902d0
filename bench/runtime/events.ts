// serve with its own event log on vs off, side by side in one run: the same MLP model, the same closed-loop
// load (c16), rounds interleaved; then every answered request's event is counted in the file sink.
// Usage: npm run bench:events [-- --seconds 5 --rounds 3]
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
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
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function start(extra: string[]): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const model = writeModel(mlpModel({ layers: [256, 512, 512, 10], seed: 1 }), dir, `mlp-${port}.onnx`);
  const args = ["--import", "tsx", "bin/dev.ts", "serve", "--model", `mlp=${model}`, "--port", String(port)];
  const child = spawn(process.execPath, [...args, "--host", "127.0.0.1", "--grpc-port", "off", ...extra], {
    cwd: root,
    stdio: "ignore",
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 1200; i++) {
    if ((await fetch(`${url}/v2/health/ready`).catch(() => undefined))?.status === 200) return { child, url };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("serve did not become ready");
}

function load(url: string, body: string): Promise<Load> {
  const args = ["--import", "tsx", "bench/runtime/load.ts", `${url}/v2/models/mlp/infer`, "POST", "16"];
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [...args, String(seconds), body], { cwd: root });
    let out = "";
    c.stdout.on("data", (d: Buffer) => (out += d.toString()));
    c.on("exit", (code) =>
      code === 0 ? resolve(JSON.parse(out) as Load) : reject(new Error(`load ${code}`)),
    );
  });
}

async function stop(child: ChildProcess): Promise<void> {
  const done = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await done;
}

/** Events the file sink holds: DIR/<model>/<date>/<hour>/*.ndjson. */
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

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const bodyFile = join(dir, "body.json");
const row = Array.from({ length: 256 }, (_, i) => Math.sin(i));
writeFileSync(
  bodyFile,
  JSON.stringify({ inputs: [{ name: "input", datatype: "FP32", shape: [1, 256], data: row }] }),
);
const sink = join(dir, "sink");
const off = await start([]);
const on = await start([
  "--sink",
  `file://${sink}`,
  "--spool-dir",
  join(dir, "spool"),
  "--revision",
  "bench",
]);
const results: { off: Load[]; on: Load[] } = { off: [], on: [] };
for (let r = 0; r < rounds; r++) {
  for (const [name, s] of [
    ["off", off],
    ["on", on],
  ] as const) {
    const res = await load(s.url, bodyFile);
    results[name].push(res);
    process.stderr.write(
      `[bench:events] round ${r + 1}/${rounds} logging ${name}: ${Math.round(res.rps)} rps\n`,
    );
  }
}
await stop(off.child);
await stop(on.child); // drains the spool into the sink before it exits
const answered = results.on.reduce((n, l) => n + l.requests - l.errors, 0);
const stored = countEvents(sink);
const summary = {
  model: "MLP 256-512-512-10, JSON, c16",
  seconds,
  rounds,
  rpsOff: median(results.off.map((l) => l.rps)),
  rpsOn: median(results.on.map((l) => l.rps)),
  p50Off: median(results.off.map((l) => l.p50)),
  p50On: median(results.on.map((l) => l.p50)),
  ratio: median(results.on.map((l) => l.rps)) / median(results.off.map((l) => l.rps)),
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
