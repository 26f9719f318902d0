// Shadow traffic in the data plane: serve with its mirror on (100% of requests copied to a shadow serve)
// vs off, side by side in one run, the same MLP model and closed-loop load, rounds interleaved. Both
// servers under test share cpu 0 (taskset, every thread); the shadow and the load run on cpu 1. Target:
// the client's p50 with mirroring on <= 1.1x off. Also reports throughput and CPU per request, and checks
// that the copies arrived (the shadow's request count against the copies the stable server counted).
// Usage: npm run bench:mirror [-- --seconds 5 --rounds 3 --percent 100]
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { cpuSeconds, median } from "./procs.js";
import { mlpModel, seededRandom, writeModel } from "../../src/testing/onnx/builders.js";
import { metricValue, startServe, tmp } from "../../src/testing/procs.js";

const root = join(import.meta.dirname, "../..");
const { values } = parseArgs({
  options: { seconds: { type: "string" }, rounds: { type: "string" }, percent: { type: "string" } },
});
const seconds = Number(values.seconds ?? 5);
const rounds = Number(values.rounds ?? 3);
const percent = Number(values.percent ?? 100);
const dir = tmp("bench-mirror");
const pinned = spawnSync("taskset", ["-c", "0", "true"]).status === 0;

/** Moves every thread of pid onto the cpus (taskset -a -p -c). */
function pin(pid: number, cpus: string): void {
  if (pinned) execFileSync("taskset", ["-a", "-p", "-c", cpus, String(pid)], { stdio: "ignore" });
}

interface Load {
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  cpuUs: number;
}

function load(url: string, pid: number, concurrency: number, body: string): Promise<Load> {
  const args = ["--import", "tsx", "bench/runtime/load.ts", `${url}/v2/models/mlp/infer`, "POST"];
  const argv = [...args, String(concurrency), String(seconds), body];
  const [cmd, a] = pinned ? ["taskset", ["-c", "1", process.execPath, ...argv]] : [process.execPath, argv];
  const c0 = cpuSeconds(pid);
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, a as string[], { cwd: root });
    let out = "";
    c.stdout.on("data", (d: Buffer) => (out += d.toString()));
    c.on("exit", (code) => {
      if (code !== 0) return reject(new Error(`load exited ${code}`));
      const l = JSON.parse(out) as Load;
      resolve({ ...l, cpuUs: ((cpuSeconds(pid) - c0) * 1e6) / Math.max(1, l.requests) });
    });
  });
}

const model = writeModel(mlpModel({ layers: [256, 512, 512, 10], seed: 1 }), dir, "mlp.onnx");
const rand = seededRandom(2);
const body = join(dir, "body.json");
writeFileSync(
  body,
  JSON.stringify({
    inputs: [
      { name: "input", datatype: "FP32", shape: [1, 256], data: Array.from({ length: 256 }, () => rand()) },
    ],
  }),
);
const serveArgs = ["--workers", "1", "--intra-op-threads", "1"];
// every server started is stopped on the way out, also when a later one fails to start
const started: Awaited<ReturnType<typeof startServe>>[] = [];
process.on("exit", () => started.forEach((s) => s.cli.child.kill("SIGKILL")));
const serve = async (extra: string[]) => {
  const s = await startServe([`mlp=${model}`], undefined, [...serveArgs, ...extra]);
  started.push(s);
  return s;
};
const shadow = await serve([]);
pin(shadow.cli.child.pid!, "1");
const mirrorFile = join(dir, "stable.mirror");
writeFileSync(mirrorFile, JSON.stringify({ url: shadow.url, percent }));
const on = await serve(["--mirror-file", mirrorFile]);
const off = await serve([]);
pin(on.cli.child.pid!, "0");
pin(off.cli.child.pid!, "0");
console.error(
  `[bench:mirror] MLP, ${percent}% copied; ${rounds} rounds x ${seconds} s after a warm-up round; ` +
    (pinned ? "servers under test on cpu 0, shadow and load on cpu 1" : "taskset missing: NOT pinned"),
);

const results: Record<string, Load[]> = {};
try {
  for (let r = 0; r <= rounds; r++) {
    for (const c of [1, 16]) {
      for (const [name, s] of [
        ["off", off],
        ["on", on],
      ] as const) {
        const res = await load(s.url, s.cli.child.pid!, c, body);
        const key = `${name} c${c}`;
        if (r > 0) (results[key] ??= []).push(res);
        console.error(
          `[bench:mirror] ${r === 0 ? "warm-up" : `round ${r}/${rounds}`} ${key}: ${Math.round(res.rps)} rps, ` +
            `p50 ${res.p50.toFixed(3)} ms, server cpu ${Math.round(res.cpuUs)} us/req`,
        );
      }
    }
  }
  await new Promise((r) => setTimeout(r, 1_000)); // the last copies land
  const metrics = await (await fetch(`${on.url}/metrics`)).text();
  const copies = (result: string) => metricValue(metrics, "modelship_mirror_copies_total", { result });
  const shadowMetrics = await (await fetch(`${shadow.url}/metrics`)).text();
  const received = metricValue(shadowMetrics, "modelship_inference_requests_total", {
    model: "mlp",
    version: "1",
    protocol: "v2",
    code: "200",
  });
  const fig = (key: string) => ({
    rps: median(results[key]!.map((l) => l.rps)),
    p50: median(results[key]!.map((l) => l.p50)),
    p99: median(results[key]!.map((l) => l.p99)),
    cpuUsPerReq: median(results[key]!.map((l) => l.cpuUs)),
    errors: results[key]!.reduce((n, l) => n + l.errors, 0),
  });
  const figures = Object.fromEntries(Object.keys(results).map((k) => [k, fig(k)]));
  const p50c1 = figures["on c1"]!.p50 / figures["off c1"]!.p50;
  const p50c16 = figures["on c16"]!.p50 / figures["off c16"]!.p50;
  const summary = {
    model: "MLP 256-512-512-10, JSON",
    setup: pinned ? "servers under test on cpu 0; shadow and load on cpu 1" : "NOT pinned",
    percent,
    seconds,
    rounds,
    figures,
    ratios: {
      "c1 p50 on / off": { value: p50c1, target: "<= 1.1", met: p50c1 <= 1.1 },
      "c16 p50 on / off": { value: p50c16, target: "<= 1.1", met: p50c16 <= 1.1 },
      "c16 rps on / off": { value: figures["on c16"]!.rps / figures["off c16"]!.rps, target: "(info)" },
    },
    copies: {
      answered: copies("answered"),
      skipped: copies("skipped"),
      timeout: copies("timeout"),
      failed: copies("failed"),
      receivedByShadow: received,
    },
  };
  const out = join(root, "bench/results", `mirror-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  mkdirSync(join(root, "bench/results"), { recursive: true });
  writeFileSync(out, JSON.stringify(summary, null, 2) + "\n");
  console.log(JSON.stringify(summary, null, 2));
  console.error(`[bench:mirror] wrote ${out}`);
} finally {
  await Promise.all(started.map((s) => s.cli.stop()));
}
