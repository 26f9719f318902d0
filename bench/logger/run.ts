// npm run bench:logger [-- --quick] [-- --rate N --cut-seconds S --agent-cut-rate N]
//
// Direct to `modelship serve` vs through `modelship logger` (write-through, fsync and buffered spools) vs
// through KServe's agent (the real peer: Go, built from the module proxy, logging every request and
// response as CloudEvents) vs through nginx with a JSON access log that includes the request body (the
// physical reference), measured side by side in one run and reported as ratios. The loggers and the agent
// ship to the same sink process. Then: the logger and the agent at a fixed rate with that sink cut for
// 10 s (events lost), and the logger alone with the collector cut for longer (loss and memory).
// Every Node process runs from a compiled build (tsc into .cache/), not through tsx.
import { execFileSync, fork, spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { availableParallelism } from "node:os";
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
import { buildAgent, startAgent } from "./kserve-agent.js";
import { findNginx, startNginx } from "./nginx.js";

const { values: flags } = parseArgs({
  options: {
    quick: { type: "boolean" },
    rate: { type: "string" },
    "cut-seconds": { type: "string" },
    features: { type: "string" },
    model: { type: "string" },
    "logger-node-flags": { type: "string" },
    "agent-cut-rate": { type: "string" },
    "no-agent": { type: "boolean" },
    "no-pin": { type: "boolean" },
  },
});
const quick = flags.quick === true;
const RATE = Number(flags.rate ?? 1000);
const CUT_S = Number(flags["cut-seconds"] ?? (quick ? 15 : 60));
/** The logger-vs-agent sink cut: this rate for 5 s, the sink gone for 10 s, 5 s more. */
const AGENT_CUT_RATE = Number(flags["agent-cut-rate"] ?? 500);
const AGENT_CUT_S = 10;
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
// Many short interleaved rounds: other jobs on a shared machine come and go within seconds, so each
// target's figure is the median over rounds (latency: percentiles over all rounds' samples).
const LAT_ROUNDS = quick ? 6 : 12;
const LAT_N = quick ? 70 : 150;
const TP_ROUNDS = quick ? 5 : 9;
const TP_MS = quick ? 1_000 : 2_000;
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

/**
 * One core for the proxy under test, the other(s) for everything else (load generator, serve, sink,
 * collector): each proxy's CPU and latency are then its own, not a share of a core the load generator
 * also wants, and the Go agent gets the one core the Node logger and nginx's worker get.
 */
const PIN =
  !flags["no-pin"] &&
  availableParallelism() >= 2 &&
  (() => {
    try {
      execFileSync("taskset", ["-p", String(process.pid)], { stdio: "ignore" });
      return true;
    } catch {
      return false;
    }
  })();
const PROXY_CPU = String(availableParallelism() - 1);
const OTHER_CPUS = `0-${availableParallelism() - 2}`;

/** Moves every thread of pid onto cpus (taskset -a -p -c). */
function pin(pid: number, cpus: string): void {
  if (PIN) execFileSync("taskset", ["-a", "-p", "-c", cpus, String(pid)], { stdio: "ignore" });
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

/** Highest RSS (MB, summed over pids) while sampling. */
function rssSampler(pids: () => number[]): { stop(): number } {
  const total = () => pids().reduce((n, p) => n + rssMb(p), 0);
  let max = total();
  const t = setInterval(() => {
    try {
      max = Math.max(max, total());
    } catch {
      // process gone
    }
  }, 100);
  return {
    stop() {
      clearInterval(t);
      return max;
    },
  };
}

interface SinkIds {
  logger: string[];
  agentRequest: string[];
  agentResponse: string[];
}

/** The shared sink process (sink.ts): its URL, a cut of `ms`, and the ids it acknowledged. */
async function startSink(): Promise<{
  url: string;
  cut(ms: number): Promise<void>;
  ids(): Promise<SinkIds>;
}> {
  const child = fork("bench/logger/sink.ts", [], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "pipe", "inherit", "ipc"],
  });
  children.push(child);
  const port = await new Promise<number>((res) =>
    createInterface({ input: child.stdout! }).once("line", (l) => res(Number(l))),
  );
  const ask = <T>(msg: object, key: string): Promise<T> =>
    new Promise((resolve) => {
      const on = (m: Record<string, unknown>) => {
        if (!(key in m)) return;
        child.off("message", on);
        resolve(m as T);
      };
      child.on("message", on);
      child.send(msg);
    });
  return {
    url: `http://127.0.0.1:${port}`,
    cut: (ms) => ask<unknown>({ cut: ms }, "cut").then(() => undefined),
    ids: () => ask<SinkIds>({ ids: true }, "logger"),
  };
}

async function main(): Promise<void> {
  mkdirSync(CACHE, { recursive: true });
  // children started from here on inherit this; each proxy is moved to its own core once it runs
  pin(process.pid, OTHER_CPUS);
  log(PIN ? `pinned: proxies on cpu ${PROXY_CPU}, the rest on cpus ${OTHER_CPUS}` : "not pinned");
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
  const servePort = Number(new URL(serve.url).port);
  const collector = await startCollectorCli(tmp("bench-store"), 0, [], launcher);
  running.push(collector.cli);
  const sink = await startSink();
  const loggerArgs = (name: string, sinkUrl: string) => [
    "--upstream",
    serve.url,
    "--sink",
    sinkUrl,
    "--spool-dir",
    tmp("bench-spool"),
    "--model",
    name,
    "--features",
    features,
  ];
  const loggerLauncher = [...LOGGER_NODE_FLAGS, ...launcher];
  // the default (write-through: each event in the page cache before its answer), fsync (each event
  // fdatasync'd before its answer, group commit) and buffered (written after the answer), all shipping
  // to the sink the agent ships to
  const loggers = new Map<string, Cli>();
  for (const [name, mode] of [
    ["logger", "write-through"],
    ["logger-fsync", "fsync"],
    ["logger-buffered", "buffered"],
  ] as const) {
    const l = await startLoggerCli([...loggerArgs("fraud", sink.url), "--spool-mode", mode], loggerLauncher);
    running.push(l.cli);
    loggers.set(name, l.cli);
    loggerUrls.set(name, l.url);
  }

  const targets: Target[] = [{ name: "direct", url: serve.url }];
  // the process(es) doing the proxying, for CPU per request and RSS; direct has none
  const proxyPids = new Map<string, () => number[]>([["direct", () => []]]);
  for (const [name, cli] of loggers) {
    targets.push({ name, url: loggerUrls.get(name)! });
    proxyPids.set(name, () => [cli.child.pid!]);
  }

  const agentBuild: { bin: string } | { skip: string } = flags["no-agent"]
    ? { skip: "--no-agent" }
    : (() => {
        try {
          execFileSync("go", ["version"], { stdio: "ignore" });
        } catch {
          return { skip: "no go toolchain on PATH" };
        }
        return buildAgent(join(CACHE, "kserve-agent"), log);
      })();
  let agentUrl: string | undefined;
  if ("bin" in agentBuild) {
    const port = await freePort();
    // one core: as many Go threads running Go code as the Node logger has
    const agent = startAgent(agentBuild.bin, port, servePort, `${sink.url}/`, PIN ? { GOMAXPROCS: "1" } : {});
    children.push(agent);
    agentUrl = `http://127.0.0.1:${port}`;
    await eventually(
      async () => ((await fetch(`${agentUrl}/v2/health/ready`)).status === 200 ? true : undefined),
      30_000,
      "the KServe agent",
    );
    targets.push({ name: "kserve-agent", url: agentUrl });
    proxyPids.set("kserve-agent", () => [agent.pid!]);
    log(`kserve agent: ${agentBuild.bin}`);
  } else {
    log(`SKIPPED KServe agent comparison: ${agentBuild.skip}`);
  }

  const nginx = findNginx(join(CACHE, "nginx"));
  let nginxProc: ReturnType<typeof startNginx> | undefined;
  if ("bin" in nginx) {
    const port = await freePort();
    const dir = tmp("bench-nginx");
    nginxProc = startNginx(nginx.bin, dir, port, servePort);
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

  for (const t of targets) for (const pid of proxyPids.get(t.name)!()) pin(pid, PROXY_CPU);
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
  /** CPU seconds per request of each round. */
  const cpu = new Map<string, number[]>(targets.map((t) => [t.name, []]));
  const rss = new Map(targets.map((t) => [t.name, 0]));
  for (let r = 0; r < TP_ROUNDS; r++) {
    for (const t of targets) {
      const pids = proxyPids.get(t.name)!();
      const c0 = cpuSeconds(pids);
      const sampler = rssSampler(() => pids);
      const res = await throughput(par.get(t.name)!, PATH, body, 16, TP_MS);
      rss.set(t.name, Math.max(rss.get(t.name)!, sampler.stop()));
      cpu.get(t.name)!.push((cpuSeconds(pids) - c0) / (res.rps * (TP_MS / 1000)));
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
  const median = (v: number[]) =>
    percentile(
      [...v].sort((a, b) => a - b),
      50,
    );
  const rps = (n: string) => median(tp.get(n)!);
  const cpuPerReq = (n: string) => median(cpu.get(n)!);

  const table = targets.map((t) => ({
    target: t.name,
    p50_ms: +p50(t.name).toFixed(3),
    p99_ms: +p99(t.name).toFixed(3),
    added_p50_ms: +(p50(t.name) - p50("direct")).toFixed(3),
    rps_c16: Math.round(rps(t.name)),
    proxy_cpu_us_per_req: t.name === "direct" ? 0 : Math.round(cpuPerReq(t.name) * 1e6),
    proxy_rss_mb_max_c16: t.name === "direct" ? 0 : +rss.get(t.name)!.toFixed(1),
  }));
  console.table(table);
  await Promise.all([...seq.values(), ...par.values()].map((p) => p.close()));

  // the logger and the agent, one after the other, at a fixed rate with the shared sink cut for 10 s
  const agentCut: Record<string, unknown>[] = [];
  for (const name of ["logger", ...(agentUrl !== undefined ? ["kserve-agent"] : [])]) {
    const url = name === "logger" ? loggerUrls.get("logger")! : agentUrl!;
    if (name === "logger") await spoolEmpty(url);
    log(`sink cut ${AGENT_CUT_S} s: ${name} at ${AGENT_CUT_RATE} req/s`);
    const pool = new Pool(url, { connections: 64 });
    const timer = setTimeout(() => void sink.cut(AGENT_CUT_S * 1000), 5_000);
    const load = await fixedRate(
      pool,
      PATH,
      bodies,
      AGENT_CUT_RATE,
      (10 + AGENT_CUT_S) * 1000,
      512,
      name === "kserve-agent" ? "ce-id" : undefined,
    );
    clearTimeout(timer);
    await pool.close();
    // the logger ships what it spooled meanwhile; the agent has nothing to retry, give it 5 s to finish
    if (name === "logger") await spoolEmpty(url);
    else await new Promise((r) => setTimeout(r, 5_000));
    const ids = await sink.ids();
    const got = new Set(name === "logger" ? ids.logger : ids.agentRequest);
    const gotResponse = new Set(ids.agentResponse);
    const row: Record<string, unknown> = {
      target: name,
      rate: AGENT_CUT_RATE,
      cut_s: AGENT_CUT_S,
      answered: load.ok,
      failed: load.failed,
      lost: load.eventIds.filter((id) => !got.has(id)).length,
    };
    if (name === "kserve-agent")
      row.lost_response_events = load.eventIds.filter((id) => !gotResponse.has(id)).length;
    agentCut.push(row);
  }
  console.table(agentCut);

  // sink cut: a fresh logger (own model name, own spool) at a fixed rate; the collector is killed for CUT_S
  log(`sink cut: ${RATE} req/s, collector down for ${CUT_S} s`);
  const cutLogger = await startLoggerCli(loggerArgs("fraud-cut", collector.url), loggerLauncher);
  running.push(cutLogger.cli);
  const pid = cutLogger.cli.child.pid!;
  pin(pid, PROXY_CPU);
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
  await spoolEmpty(cutLogger.url);
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

  const has = (n: string) => targets.some((t) => t.name === n);
  const added = (n: string) => p50(n) - p50("direct");
  const ratio = (x: number) => +x.toFixed(3);
  const over = (a: string, b: string) =>
    has(b)
      ? {
          [`added_p50_${a}_over_${b}`]: ratio(added(a) / added(b)),
          [`rps_c16_${a}_over_${b}`]: ratio(rps(a) / rps(b)),
          [`cpu_per_req_${a}_over_${b}`]: ratio(cpuPerReq(a) / cpuPerReq(b)),
          [`rss_${a}_over_${b}`]: ratio(rss.get(a)! / rss.get(b)!),
        }
      : {};
  const ratios: Record<string, number> = {
    ...over("logger", "kserve-agent"),
    ...over("logger", "nginx"),
    ...over("logger", "node-proxy"),
    ...over("logger-fsync", "logger"),
    ...over("logger", "logger-buffered"),
  };
  const agentLost = agentCut.find((r) => r.target === "kserve-agent");
  const loggerLost = agentCut.find((r) => r.target === "logger")?.lost;
  const checks = [
    ...(has("kserve-agent")
      ? [
          ["added p50 at c=1 <= 0.6 x KServe agent", ratios["added_p50_logger_over_kserve-agent"]! <= 0.6],
          ["throughput at c=16 >= 1.5 x KServe agent", ratios["rps_c16_logger_over_kserve-agent"]! >= 1.5],
          ["CPU per request <= 0.6 x KServe agent", ratios["cpu_per_req_logger_over_kserve-agent"]! <= 0.6],
          ["RSS at c=16 <= 0.8 x KServe agent", ratios["rss_logger_over_kserve-agent"]! <= 0.8],
        ]
      : []),
    [
      `sink cut ${AGENT_CUT_S} s at ${AGENT_CUT_RATE} req/s: 0 events lost (agent lost ${String(agentLost?.lost ?? "n/a")})`,
      loggerLost === 0,
    ],
    [`collector cut ${CUT_S} s: 0 events lost`, lost === 0],
    ["collector cut: logger RSS <= 96 MB (whole run incl. warm-up)", maxRss <= 96],
    [`collector cut: achieved >= 0.95 x ${RATE} req/s`, load.ok / load.seconds >= 0.95 * RATE],
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
        pinned: PIN ? { proxies: PROXY_CPU, rest: OTHER_CPUS } : false,
        features: FEATURES,
        latency: table,
        ratios,
        agentSinkCut: agentCut,
        sinkCut: cut,
        checks,
        kserveAgent: "bin" in agentBuild ? "github.com/kserve/kserve/cmd/agent@v0.16.0" : agentBuild.skip,
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

const loggerUrls = new Map<string, string>();

/** Waits until a logger's spool is empty (everything shipped). */
async function spoolEmpty(url: string): Promise<void> {
  await eventually(
    async () => {
      const m = await (await fetch(`${url}/metrics`)).text();
      return metricValue(m, "modelship_events_spool_bytes") === 0 ? true : undefined;
    },
    600_000,
    "the logger to empty its spool",
  );
}

try {
  await main();
} finally {
  // SIGTERM lets nginx's master stop its workers; the agent sleeps 30 s on SIGTERM (for Kubernetes), so
  // whatever is still there 3 s later is killed
  const alive = (c: ChildProcess) => c.exitCode === null && c.signalCode === null;
  for (const c of children) if (alive(c)) c.kill("SIGTERM");
  await new Promise((r) => setTimeout(r, 3_000));
  for (const c of children) if (alive(c)) c.kill("SIGKILL");
  await Promise.all(running.map((c) => c.stop(5_000)));
}
