// npm run bench:logger:profile is not a script on purpose; run: node --import tsx bench/logger/profile.ts [--seconds N] [--sink URL]
//
// CPU profile of `modelship logger` under closed-loop load (concurrency 16, identity model): starts serve and
// the logger (node --cpu-prof, from the compiled build the bench uses), drives load, stops the logger so
// V8 writes the profile, and prints the functions and files with the most self time.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { Pool } from "undici";
import { identityModel, writeModel } from "../../src/testing/onnx/builders.js";
import { startLoggerCli, startServe, tmp } from "../../src/testing/procs.js";
import { makeBody, throughput } from "./load.js";

const { values: flags } = parseArgs({
  options: {
    seconds: { type: "string" },
    sink: { type: "string" },
    concurrency: { type: "string" },
    "logger-args": { type: "string" },
    "no-prof": { type: "boolean" },
  },
});
const SECONDS = Number(flags.seconds ?? 8);
const C = Number(flags.concurrency ?? 16);
const CACHE = resolve(".cache/bench-logger");
const launcher = [join(CACHE, "modelship.mjs")];
execFileSync(
  process.execPath,
  ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json", "--outDir", join(CACHE, "dist")],
  {
    stdio: "ignore",
  },
);

const model = writeModel(
  identityModel({ dtype: "float32", shape: ["batch", 32], input: "input" }),
  tmp("prof-model"),
);
const serve = await startServe([`fraud=${model}`], launcher);
const profDir = tmp("prof");
const features = JSON.stringify(Array.from({ length: 32 }, (_, i) => ({ name: `f${i}`, type: "numeric" })));
const logger = await startLoggerCli(
  [
    "--upstream",
    serve.url,
    "--sink",
    flags.sink ?? `file://${tmp("prof-events")}`,
    "--spool-dir",
    tmp("prof-spool"),
    "--model",
    "fraud",
    "--features",
    features,
    ...(flags["logger-args"] ?? "").split(" ").filter(Boolean),
  ],
  [
    ...(flags["no-prof"] ? [] : ["--cpu-prof", `--cpu-prof-dir=${profDir}`]),
    "--max-semi-space-size=4",
    "--max-old-space-size=64",
    ...launcher,
  ],
);
const pool = new Pool(logger.url, { connections: C });
const body = makeBody(32, 0);
await throughput(pool, "/v2/models/fraud/infer", body, C, 1_000);
const cpu = () => {
  const f = readFileSync(`/proc/${logger.cli.child.pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
};
const c0 = cpu();
const r = await throughput(pool, "/v2/models/fraud/infer", body, C, SECONDS * 1000);
const cpuUs = ((cpu() - c0) / (r.rps * SECONDS)) * 1e6;
// per thread: the main (JS) thread vs libuv's pool (fs writes, fsync) and V8's helpers (GC)
const threads = readdirSync(`/proc/${logger.cli.child.pid}/task`).map((tid) => {
  const raw = readFileSync(`/proc/${logger.cli.child.pid}/task/${tid}/stat`, "utf8");
  const name = /\((.*)\)/.exec(raw)?.[1] ?? "?";
  const f = raw.split(") ")[1]!.split(" ");
  return `${name}:${(Number(f[11]) / 100).toFixed(2)}u+${(Number(f[12]) / 100).toFixed(2)}s`;
});
console.log(`threads (whole life) ${threads.join(" ")}`);
await pool.close();
await logger.cli.stop(10_000);
await serve.cli.stop(5_000);
console.log(`rps ${Math.round(r.rps)} errors ${r.errors} logger cpu ${Math.round(cpuUs)} us/req`);
if (flags["no-prof"]) process.exit(0);

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount: number;
}
const file = readdirSync(profDir).find((f) => f.endsWith(".cpuprofile"));
if (file === undefined) throw new Error("no profile written");
const prof = JSON.parse(readFileSync(join(profDir, file), "utf8")) as { nodes: Node[]; samples: number[] };
const total = prof.samples.length;
const byFn = new Map<string, number>();
const byFile = new Map<string, number>();
for (const n of prof.nodes) {
  const url = n.callFrame.url.replace(/^.*\/(node_modules\/[^/]+|dist)\//, "$1/").replace(/^node:/, "node:");
  const fn = `${n.callFrame.functionName || "(anon)"} ${url}:${n.callFrame.lineNumber + 1}`;
  byFn.set(fn, (byFn.get(fn) ?? 0) + n.hitCount);
  const f = url === "" ? n.callFrame.functionName : url;
  byFile.set(f, (byFile.get(f) ?? 0) + n.hitCount);
}
const top = (m: Map<string, number>, k: number) =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, k)
    .map(([name, hits]) => `${((100 * hits) / total).toFixed(1).padStart(5)}%  ${name}`);
console.log(`samples ${total}; profile ${join(profDir, file)}\n-- self time by file`);
console.log(top(byFile, 25).join("\n"));
console.log("-- self time by function");
console.log(top(byFn, 45).join("\n"));
