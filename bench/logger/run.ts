// npm run bench:logger [-- --quick] [-- --rate N --cut-seconds S]
//
// Direct to `modelship serve` vs through `modelship logger` vs through nginx with a JSON access log that
// includes the request body (the stand-in for an Envoy sidecar), measured side by side in one run and
// reported as ratios; then the logger at a fixed rate with its sink cut, for loss and memory.
// Every process runs from a compiled build (tsc into .cache/), not through tsx.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { Pool } from "undici";
import { identityModel, mlpModel, writeModel } from "../../src/testing/onnx/builders.js";
import {
  eventually,
  exportEvents,
  metricValue,
  startCollectorCli,
  startLoggerCli,
  startServe,
  tmp,
  type Cli,
} from "../../src/testing/procs.js";
import { fixedRate, latencies, makeBody, percentile, throughput, type Target } from "./load.js";
import { findNginx, startNginx } from "./nginx.js";

const { values: flags } = parseArgs({
  options: {
    quick: { type: "boolean" },
    rate: { type: "string" },
    "cut-seconds": { type: "string" },
    features: { type: "string" },
    model: { type: "string" },
    "logger-node-flags": { type: "string" },
  },
});
const quick = flags.quick === true;
const RATE = Number(flags.rate ?? 1000);
const CUT_S = Number(flags["cut-seconds"] ?? (quick ? 15 : 60));
const FEATURES = Number(flags.features ?? 32);
/** identity: the cheapest model, so proxy cost shows fully; mlp: 32 -> 256 -> 256 -> 2, a small real model. */
const MODEL = flags.model ?? "identity";
/**
 * The V8 flags docs/logging.md recommends for the logger container (NODE_OPTIONS): a small young
 * generation and an old-space cap keep RSS flat under load. "" measures Node's defaults.
 */
const LOGGER_NODE_FLAGS = (flags["logger-node-flags"] ?? "--max-semi-space-size=4 --max-old-space-size=64")
  .split(" ")
  .filter((f) => f !== "");
const LAT_ROUNDS = quick ? 2 : 5;
const LAT_N = quick ? 200 : 400;
const TP_ROUNDS = quick ? 1 : 3;
const TP_MS = quick ? 3_000 : 5_000;
const CACHE = resolve(".cache/bench-logger");
const PATH = "/v2/models/fraud/infer";

const running: Cli[] = [];
/** Non-CLI children (nginx, the bare Node proxy): killed in the finally block whatever happens. */
const children: ChildProcess[] = [];
const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / 100;
}

function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Compiles src with tsc into .cache (emits even if another part has type errors) and returns a launcher. */
function build(): string[] {
  const out = join(CACHE, "dist");
  log("compiling src with tsc (tsconfig.build.json) into .cache/bench-logger/dist");
  try {
    execFileSync(
      process.execPath,
      ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json", "--outDir", out],
      {
        stdio: "ignore",
      },
    );
  } catch {
    log("tsc reported errors (in some part of the tree); using what it emitted");
  }
  // dist/version.js reads ../package.json, as it does in the published package
  writeFileSync(join(CACHE, "package.json"), readFileSync("package.json"));
  const launcher = join(CACHE, "modelship.mjs");
  writeFileSync(
    launcher,
    `import { main } from "./dist/cmd/main.js";\nprocess.exitCode = await main(process.argv.slice(2));\n`,
  );
  return [launcher];
}

async function main(): Promise<void> {
  mkdirSync(CACHE, { recursive: true });
  const launcher = build();
  const built =
    MODEL === "mlp"
      ? mlpModel({ layers: [FEATURES, 256, 256, 2], seed: 1 })
      : identityModel({ dtype: "float32", shape: ["batch", FEATURES], input: "input" });
  const model = writeModel(built, tmp("bench-model"));
  const features = JSON.stringify(
    Array.from({ length: FEATURES }, (_, i) => ({ name: `f${i}`, type: "numeric" })),
  );

  const serve = await startServe([`fraud=${model}`], launcher);
  running.push(serve.cli);
  const collector = await startCollectorCli(tmp("bench-store"), 0, [], launcher);
  running.push(collector.cli);
  const loggerArgs = (name: string, sink: string) => [
    "--upstream",
    serve.url,
    "--sink",
    sink,
    "--spool-dir",
    tmp("bench-spool"),
    "--model",
    name,
    "--features",
    features,
  ];
  const loggerLauncher = [...LOGGER_NODE_FLAGS, ...launcher];
  const logger = await startLoggerCli(
    loggerArgs(
      "fraud",
      // a local NDJSON file, like nginx's access log; the sink-cut phase below uses the collector
      `file://${tmp("bench-events")}`,
    ),
    loggerLauncher,
  );
  running.push(logger.cli);
  // the same logger with the buffered spool (events written every interval, after the answer): what the
  // default write-through spool (each event written before its answer) costs
  const buffered = await startLoggerCli(
    [...loggerArgs("fraud", `file://${tmp("bench-events-buffered")}`), "--spool-mode", "buffered"],
    loggerLauncher,
  );
  running.push(buffered.cli);

  const targets: Target[] = [
    { name: "direct", url: serve.url },
    { name: "logger", url: logger.url },
    { name: "logger-buffered", url: buffered.url },
  ];
  // the process(es) doing the proxying, for CPU per request; direct has none
  const proxyPids = new Map<string, () => number[]>([
    ["direct", () => []],
    ["logger", () => [logger.cli.child.pid!]],
    ["logger-buffered", () => [buffered.cli.child.pid!]],
  ]);
  const nginx = findNginx(join(CACHE, "nginx"));
  let nginxProc: ReturnType<typeof startNginx> | undefined;
  if ("bin" in nginx) {
    const port = await freePort();
    const dir = tmp("bench-nginx");
    nginxProc = startNginx(nginx.bin, dir, port, Number(new URL(serve.url).port));
    children.push(nginxProc);
    const url = `http://127.0.0.1:${port}`;
    await eventually(
      async () => ((await fetch(`${url}/v2/health/ready`)).status === 200 ? true : undefined),
      20_000,
      "nginx",
    );
    targets.push({ name: "nginx", url });
    const master = nginxProc.pid!;
    proxyPids.set("nginx", () => [master, ...childPids(master)]);
    log(`nginx: ${nginx.bin} (access log ${dir}/access.log)`);
  } else {
    log(`SKIPPED nginx comparison: ${nginx.skip}`);
  }

  // the floor for any Node proxy (no logging), to tell Node's own cost from the cost of recording events
  const nodeProxy = spawn(process.execPath, ["--import", "tsx", "bench/logger/node-proxy.ts", serve.url], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(nodeProxy);
  const nodeProxyPort = await new Promise<number>((res) =>
    createInterface({ input: nodeProxy.stdout! }).once("line", (l) => res(Number(l))),
  );
  targets.push({ name: "node-proxy", url: `http://127.0.0.1:${nodeProxyPort}` });
  proxyPids.set("node-proxy", () => [nodeProxy.pid!]);

  const bodies = Array.from({ length: 64 }, (_, i) => makeBody(FEATURES, i));
  const body = bodies[0] as string;
  const seq = new Map(targets.map((t) => [t.name, new Pool(t.url, { connections: 1 })]));
  const par = new Map(targets.map((t) => [t.name, new Pool(t.url, { connections: 16 })]));

  log("warming up");
  for (const t of targets) {
    await latencies(seq.get(t.name)!, PATH, body, 300);
    await throughput(par.get(t.name)!, PATH, body, 16, 1_000);
  }

  // interleaved rounds, so a noisy neighbour hits every target alike
  const lat = new Map<string, number[]>(targets.map((t) => [t.name, []]));
  for (let r = 0; r < LAT_ROUNDS; r++) {
    for (const t of targets) lat.get(t.name)!.push(...(await latencies(seq.get(t.name)!, PATH, body, LAT_N)));
    log(`latency round ${r + 1}/${LAT_ROUNDS}`);
  }
  const tp = new Map<string, number[]>(targets.map((t) => [t.name, []]));
  const cpu = new Map(targets.map((t) => [t.name, { seconds: 0, requests: 0 }]));
  for (let r = 0; r < TP_ROUNDS; r++) {
    for (const t of targets) {
      const pids = proxyPids.get(t.name)!();
      const c0 = cpuSeconds(pids);
      const res = await throughput(par.get(t.name)!, PATH, body, 16, TP_MS);
      const c = cpu.get(t.name)!;
      c.seconds += cpuSeconds(pids) - c0;
      c.requests += res.rps * (TP_MS / 1000);
      tp.get(t.name)!.push(res.rps);
    }
    log(`throughput round ${r + 1}/${TP_ROUNDS}`);
  }
  const p50 = (n: string) =>
    percentile(
      [...lat.get(n)!].sort((a, b) => a - b),
      50,
    );
  const p99 = (n: string) =>
    percentile(
      [...lat.get(n)!].sort((a, b) => a - b),
      99,
    );
  const rps = (n: string) => {
    const v = tp.get(n)!;
    return v.reduce((a, b) => a + b, 0) / v.length;
  };

  const table = targets.map((t) => ({
    target: t.name,
    p50_ms: +p50(t.name).toFixed(3),
    p99_ms: +p99(t.name).toFixed(3),
    added_p50_ms: +(p50(t.name) - p50("direct")).toFixed(3),
    rps_c16: Math.round(rps(t.name)),
    proxy_cpu_us_per_req:
      t.name === "direct" ? 0 : Math.round((cpu.get(t.name)!.seconds / cpu.get(t.name)!.requests) * 1e6),
  }));
  console.table(table);
  await Promise.all([...seq.values(), ...par.values()].map((p) => p.close()));

  // sink cut: a fresh logger (own model name, own spool) at a fixed rate; the collector is killed for CUT_S
  log(`sink cut: ${RATE} req/s, collector down for ${CUT_S} s`);
  const cutLogger = await startLoggerCli(loggerArgs("fraud-cut", collector.url), loggerLauncher);
  running.push(cutLogger.cli);
  const pid = cutLogger.cli.child.pid!;
  const dataDir =
    (collector.cli.logs.find((l) => l.msg === "Started event collector")?.dataDir as string) ?? "";
  const collectorPort = Number(new URL(collector.url).port);
  const idleRss = rssMb(pid);
  let maxRss = idleRss;
  let maxRssCut = 0;
  let cutting = false;
  const sampler = setInterval(() => {
    try {
      const r = rssMb(pid);
      maxRss = Math.max(maxRss, r);
      if (cutting) maxRssCut = Math.max(maxRssCut, r);
    } catch {
      // process gone
    }
  }, 250);
  let restarted: { cli: Cli; url: string } | undefined;
  const cutAt = 5_000;
  const timers = [
    setTimeout(() => {
      cutting = true;
      collector.cli.child.kill("SIGKILL");
    }, cutAt),
    setTimeout(
      () => {
        cutting = false;
        void startCollectorCli(dataDir, collectorPort, [], launcher).then((c) => {
          restarted = c;
          running.push(c.cli);
        });
      },
      cutAt + CUT_S * 1000,
    ),
  ];
  const pool = new Pool(cutLogger.url, { connections: 64 });
  const load = await fixedRate(pool, PATH, bodies, RATE, cutAt + CUT_S * 1000 + 10_000);
  timers.forEach(clearTimeout);
  await pool.close();
  const restartedCollector = await eventually(async () => restarted, 60_000, "collector restart");
  await eventually(
    async () => {
      const m = await (await fetch(`${cutLogger.url}/metrics`)).text();
      return metricValue(m, "modelship_events_spool_bytes") === 0 ? true : undefined;
    },
    600_000,
    "the logger to empty its spool",
  );
  clearInterval(sampler);
  const metrics = await (await fetch(`${cutLogger.url}/metrics`)).text();
  const stored = await exportEvents(restartedCollector.url, "fraud-cut");
  const storedIds = new Set(stored.map((e) => e.id as string));
  const lost = load.eventIds.filter((id) => !storedIds.has(id)).length;
  const cut = {
    target_rate: RATE,
    achieved_rate: Math.round(load.ok / load.seconds),
    answered: load.ok,
    failed: load.failed,
    not_started_backpressure: load.skipped,
    stored: stored.length,
    stored_unique: storedIds.size,
    lost,
    dropped_metric: metricValue(metrics, "modelship_events_dropped_total"),
    sink_retries: metricValue(metrics, "modelship_events_sink_retries_total"),
    logger_node_flags: LOGGER_NODE_FLAGS.join(" "),
    logger_idle_rss_mb: +idleRss.toFixed(1),
    logger_max_rss_mb_during_cut: +maxRssCut.toFixed(1),
    logger_max_rss_mb_whole_run: +maxRss.toFixed(1),
  };
  console.table([cut]);

  const nginxOk = targets.some((t) => t.name === "nginx");
  const added = (n: string) => p50(n) - p50("direct");
  const cpuPerReq = (n: string) => cpu.get(n)!.seconds / cpu.get(n)!.requests;
  const ratios = {
    ...(nginxOk
      ? {
          added_p50_logger_over_nginx: +(added("logger") / added("nginx")).toFixed(3),
          rps_c16_logger_over_nginx: +(rps("logger") / rps("nginx")).toFixed(3),
          cpu_per_req_logger_over_nginx: +(cpuPerReq("logger") / cpuPerReq("nginx")).toFixed(3),
        }
      : {}),
    added_p50_logger_over_node_proxy: +(added("logger") / added("node-proxy")).toFixed(3),
    added_p50_write_through_over_buffered: +(added("logger") / added("logger-buffered")).toFixed(3),
    rps_c16_write_through_over_buffered: +(rps("logger") / rps("logger-buffered")).toFixed(3),
    cpu_per_req_write_through_over_buffered: +(cpuPerReq("logger") / cpuPerReq("logger-buffered")).toFixed(3),
    rps_c16_logger_over_node_proxy: +(rps("logger") / rps("node-proxy")).toFixed(3),
    cpu_per_req_logger_over_node_proxy: +(cpuPerReq("logger") / cpuPerReq("node-proxy")).toFixed(3),
  };
  const checks = [
    ...(nginxOk
      ? [
          ["added p50 at c=1 <= 1.5 x nginx", (ratios.added_p50_logger_over_nginx ?? Infinity) <= 1.5],
          ["throughput at c=16 >= 0.9 x nginx", (ratios.rps_c16_logger_over_nginx ?? 0) >= 0.9],
        ]
      : []),
    [`sink cut ${CUT_S} s: 0 events lost`, lost === 0],
    ["sink cut: logger RSS <= 96 MB (whole run incl. warm-up)", maxRss <= 96],
    [`sink cut: achieved >= 0.95 x ${RATE} req/s`, load.ok / load.seconds >= 0.95 * RATE],
  ] as const;
  console.log(JSON.stringify(ratios));
  for (const [name, ok] of checks) console.log(`${ok ? "PASS" : "FAIL"}  ${name}`);
  const resultsDir = "bench/results";
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `logger-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  writeFileSync(
    file,
    JSON.stringify(
      {
        quick,
        features: FEATURES,
        latency: table,
        ratios,
        sinkCut: cut,
        checks,
        nginx: "bin" in nginx ? nginx.bin : nginx.skip,
      },
      null,
      2,
    ),
  );
  log(`wrote ${file}`);
  nginxProc?.kill("SIGTERM");
  nodeProxy.kill("SIGTERM");
}

try {
  await main();
} finally {
  // SIGTERM lets nginx's master stop its workers; whatever is still there 3 s later is killed
  const alive = (c: ChildProcess) => c.exitCode === null && c.signalCode === null;
  for (const c of children) if (alive(c)) c.kill("SIGTERM");
  await new Promise((r) => setTimeout(r, 3_000));
  for (const c of children) if (alive(c)) c.kill("SIGKILL");
  await Promise.all(running.map((c) => c.stop(5_000)));
}
