// bench/runtime: the model server against baselines measured side by side in the same run.
// Every server is started up front, pinned to one core (taskset); load generators run on the other.
// Measurements are interleaved: each of REPS rounds runs every measurement once, so a burst of
// outside load hits subject and baseline alike. Every figure is the median over the rounds.
// "core share" (rps x server CPU per request) and "load cpu" (the generator's share of its core) say
// what limited a figure: a saturated server shows a core share near 1, a saturated generator a load
// cpu near 1; both well below 1 means other processes on the machine took the cores.
// Usage: npm run bench:runtime   (env: BENCH_REPS, BENCH_SECONDS, BENCH_SKIP_PEER=1)
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
// A probe client raised above the load generator it shares a core with (needs root or CAP_SYS_NICE):
// it takes the client's own CPU contention out of the readiness figures, as a kubelet on its own core.
const PROBE_NICE = ["-n", "-10"];
const probePrio = spawnSync("nice", [...PROBE_NICE, "nice"], { encoding: "utf8" }).stdout?.trim() === "-10";
const root = process.cwd();
const dir = tempDir("modelship-bench-");

interface LoadResult {
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  /** Share of one core the load generator used (its core is the limit near 1). */
  clientCpu: number;
  statuses: Record<string, number>;
}

interface Figure {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  /** Server CPU time (all threads) per answered request, in microseconds. */
  cpuUsPerReq: number;
  /** Share of one core the load generator used. */
  clientCpu: number;
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

interface Server {
  child: ChildProcess;
  url: string;
}

/** Starts a pinned server on a free port; taskset execs the command, so the child's pid is the server's. */
async function startServer(
  cmd: string,
  args: (port: number) => string[],
  readyPath: string,
): Promise<Server> {
  const port = await freePort();
  const [c, a] = pin(SERVER_CPU, cmd, args(port));
  const child = spawn(c, a, { stdio: ["ignore", "ignore", "ignore"], cwd: root });
  const url = `http://127.0.0.1:${port}`;
  await waitHttp(url + readyPath, child);
  return { child, url };
}

async function stop(s: Server | undefined): Promise<void> {
  if (s === undefined || s.child.exitCode !== null) return;
  const done = new Promise((r) => s.child.once("exit", r));
  s.child.kill("SIGTERM");
  const t = setTimeout(() => s.child.kill("SIGKILL"), 10_000);
  await done;
  clearTimeout(t);
}

function runLoad(
  url: string,
  method: string,
  concurrency: number,
  seconds: number,
  body?: string,
  prio = false,
  jsonLength?: number,
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
  if (jsonLength !== undefined) args.push(String(jsonLength));
  const [c0, a0] = pin(LOAD_CPU, process.execPath, args);
  const [c, a] = prio ? ["nice", [...PROBE_NICE, c0, ...a0]] : [c0, a0];
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

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// --- setup -----------------------------------------------------------------------------------------
const modelPath = writeModel(mlpModel({ layers: [256, 512, 512, 10], seed: 1 }), dir, "mlp.onnx");
const heavyPath = writeModel(mlpModel({ layers: [256, 2048, 2048, 10], seed: 3 }), dir, "mlp-heavy.onnx");
const rand = seededRandom(2);
const bodyPath = join(dir, "body.json");
const row = Array.from({ length: 256 }, () => rand() * 2 - 1);
writeFileSync(
  bodyPath,
  JSON.stringify({ inputs: [{ name: "input", datatype: "FP32", shape: [1, 256], data: row }] }),
);
// The same request as tritonclient sends it by default: binary tensor data in and out.
const binaryPath = join(dir, "body.bin");
const binaryJson = Buffer.from(
  JSON.stringify({
    inputs: [{ name: "input", datatype: "FP32", shape: [1, 256], parameters: { binary_data_size: 1024 } }],
    parameters: { binary_data_output: true },
  }),
);
writeFileSync(binaryPath, Buffer.concat([binaryJson, Buffer.from(Float32Array.from(row).buffer)]));
console.log(
  `bench/runtime: MLP 256-512-512-10 float32; ${REPS} interleaved rounds x ${SECONDS} s per figure (median); ` +
    (pinned ? `servers on cpu ${SERVER_CPU}, load on cpu ${LOAD_CPU}` : "taskset missing: NOT pinned"),
);

const serve = (model: string, extra: string[] = []) =>
  startServer(
    process.execPath,
    (port) => [
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
      // HTTP is what is measured; gRPC's fixed default port would also collide between the servers.
      "--grpc-port",
      "off",
      ...extra,
    ],
    "/v2/health/ready",
  );

async function peerServer(): Promise<{ server?: Server; why?: string; version?: string }> {
  if (process.env.BENCH_SKIP_PEER === "1") return { why: "skipped (BENCH_SKIP_PEER=1)" };
  const venv = join(root, ".cache/bench-runtime-venv");
  const py = join(venv, "bin/python");
  if (!existsSync(py) || spawnSync(py, ["-c", "import kserve, onnxruntime"]).status !== 0) {
    console.log("creating the KServe venv (python3 -m venv + pip install kserve onnxruntime numpy) ...");
    mkdirSync(join(root, ".cache"), { recursive: true });
    const mk = spawnSync("python3", ["-m", "venv", venv], { stdio: "inherit" });
    if (mk.status !== 0) return { why: "python3 -m venv failed" };
    const pip = spawnSync(join(venv, "bin/pip"), ["install", "--quiet", "kserve", "onnxruntime", "numpy"], {
      stdio: "inherit",
    });
    if (pip.status !== 0) return { why: "pip install kserve onnxruntime numpy failed" };
  }
  const v = spawnSync(
    py,
    ["-c", "from importlib.metadata import version as v; print(v('kserve'), v('onnxruntime'))"],
    {
      encoding: "utf8",
    },
  );
  try {
    const server = await startServer(
      py,
      (port) => ["bench/runtime/kserve_model.py", "--model_path", modelPath, "--port", String(port)],
      "/v2/models/mlp/ready",
    );
    return { server, version: v.stdout.trim() };
  } catch (err) {
    return { why: `KServe server failed to start: ${(err as Error).message}` };
  }
}

const servers: Record<string, Server | undefined> = {};
try {
  servers.hello = await startServer(
    process.execPath,
    (port) => ["--import", "tsx", "bench/runtime/hello.ts", String(port)],
    "/",
  );
  servers.floor = await startServer(
    process.execPath,
    (port) => ["--import", "tsx", "bench/runtime/floor.ts", modelPath, String(port)],
    "/",
  );
  servers.ours = await serve(modelPath);
  servers.unbatched = await serve(modelPath, ["--max-batch-size", "1"]);
  servers.heavy = await serve(heavyPath);
  servers.heavyUnbatched = await serve(heavyPath, ["--max-batch-size", "1"]);
  const peer = await peerServer();
  servers.peer = peer.server;
  if (peer.server)
    console.log(
      `peer: KServe Python model server (kserve, onnxruntime: ${peer.version}), 1 worker, 1 intra-op thread`,
    );
  else console.log(`peer: ${peer.why}`);

  const infer = (s: string) => `${servers[s]!.url}/v2/models/mlp/infer`;
  // The readiness probe: one client on serve's /v2/health/ready, alone or beside a load that outlasts it.
  const probe = (prio = false) =>
    runLoad(`${servers.ours!.url}/v2/health/ready`, "GET", 1, SECONDS, undefined, prio);
  const probeUnder = async (load: () => Promise<LoadResult>, prio = false) =>
    (await Promise.all([probe(prio), load()]))[0];
  type Measure = { label: string; server: string; run: () => Promise<LoadResult> };
  const measures: Measure[] = [
    {
      label: "hello-world, concurrency 1",
      server: "hello",
      run: () => runLoad(servers.hello!.url + "/", "GET", 1, SECONDS),
    },
    {
      label: "hello-world, concurrency 16",
      server: "hello",
      run: () => runLoad(servers.hello!.url + "/", "GET", 16, SECONDS),
    },
    {
      label: "serve /infer, concurrency 1",
      server: "ours",
      run: () => runLoad(infer("ours"), "POST", 1, SECONDS, bodyPath),
    },
    {
      label: "floor /infer, concurrency 1",
      server: "floor",
      run: () => runLoad(`${servers.floor!.url}/`, "POST", 1, SECONDS, bodyPath),
    },
    {
      label: "floor /infer, concurrency 16",
      server: "floor",
      run: () => runLoad(`${servers.floor!.url}/`, "POST", 16, SECONDS, bodyPath),
    },
    {
      label: "serve /infer, concurrency 16",
      server: "ours",
      run: () => runLoad(infer("ours"), "POST", 16, SECONDS, bodyPath),
    },
    {
      label: "serve /infer binary, concurrency 16",
      server: "ours",
      run: () => runLoad(infer("ours"), "POST", 16, SECONDS, binaryPath, false, binaryJson.length),
    },
    {
      label: "serve /infer, concurrency 32 (batched)",
      server: "ours",
      run: () => runLoad(infer("ours"), "POST", 32, SECONDS, bodyPath),
    },
    {
      label: "serve /infer, c32, --max-batch-size 1",
      server: "unbatched",
      run: () => runLoad(infer("unbatched"), "POST", 32, SECONDS, bodyPath),
    },
    {
      label: "ready p99 idle, concurrency 1",
      server: "ours",
      run: () => probe(),
    },
    {
      label: "ready p99 under /infer c32 load",
      server: "ours",
      run: () => probeUnder(() => runLoad(infer("ours"), "POST", 32, SECONDS + 1, bodyPath)),
    },
    {
      // Control: the probe's client shares its core with a c32 load generator, here aimed at the
      // hello-world server, so the server under test is idle; what this adds is the client side.
      label: "ready p99 under hello-world c32 load",
      server: "ours",
      run: () => probeUnder(() => runLoad(servers.hello!.url + "/", "GET", 32, SECONDS + 1)),
    },
    ...(probePrio
      ? [
          {
            label: "ready idle, probe client at nice -10",
            server: "ours",
            run: () => probe(true),
          },
          {
            label: "ready under c32 load, probe at nice -10",
            server: "ours",
            run: () => probeUnder(() => runLoad(infer("ours"), "POST", 32, SECONDS + 1, bodyPath), true),
          },
        ]
      : []),
    {
      label: "heavy MLP c32 (batched)",
      server: "heavy",
      run: () => runLoad(infer("heavy"), "POST", 32, SECONDS, bodyPath),
    },
    {
      label: "heavy MLP c32, --max-batch-size 1",
      server: "heavyUnbatched",
      run: () => runLoad(infer("heavyUnbatched"), "POST", 32, SECONDS, bodyPath),
    },
  ];
  if (servers.peer) {
    measures.push(
      {
        label: "KServe /infer, concurrency 1",
        server: "peer",
        run: () => runLoad(infer("peer"), "POST", 1, SECONDS, bodyPath),
      },
      {
        label: "KServe /infer, concurrency 16",
        server: "peer",
        run: () => runLoad(infer("peer"), "POST", 16, SECONDS, bodyPath),
      },
    );
  }

  // Round 0 warms every server up and is not counted.
  const samples = new Map<string, (LoadResult & { cpuUs: number })[]>(measures.map((m) => [m.label, []]));
  const raws: number[] = [];
  for (let round = 0; round <= REPS; round++) {
    process.stdout.write(round === 0 ? "warm-up round" : ` ${round}`);
    for (const m of measures) {
      const pid = servers[m.server]!.child.pid;
      const c0 = cpuSeconds(pid);
      const r = await m.run();
      const cpuUs = ((cpuSeconds(pid) - c0) * 1e6) / Math.max(1, r.requests);
      if (round > 0) samples.get(m.label)!.push({ ...r, cpuUs });
    }
    const [c, a] = pin(SERVER_CPU, process.execPath, [
      "--import",
      "tsx",
      "bench/runtime/raw-run.ts",
      modelPath,
      "2000",
    ]);
    const raw = spawnSync(c, a, { cwd: root, encoding: "utf8" });
    if (round > 0) raws.push((JSON.parse(raw.stdout) as { p50: number }).p50);
  }
  console.log("\n");

  const fig: Record<string, Figure> = {};
  for (const m of measures) {
    const runs = samples.get(m.label)!;
    const f = {
      rps: median(runs.map((x) => x.rps)),
      p50: median(runs.map((x) => x.p50)),
      p99: median(runs.map((x) => x.p99)),
      errors: runs.reduce((n, x) => n + x.errors, 0),
      cpuUsPerReq: median(runs.map((x) => x.cpuUs)),
      clientCpu: median(runs.map((x) => x.clientCpu)),
    };
    fig[m.label] = f;
    console.log(
      `  ${m.label.padEnd(40)} rps ${f.rps.toFixed(0).padStart(6)}  p50 ${f.p50.toFixed(3).padStart(8)} ms  ` +
        `p99 ${f.p99.toFixed(3).padStart(8)} ms  server cpu ${f.cpuUsPerReq.toFixed(0).padStart(5)} us/req  ` +
        `(core share ${((f.rps * f.cpuUsPerReq) / 1e6).toFixed(2)})  load cpu ${f.clientCpu.toFixed(2)}  errors ${f.errors}`,
    );
  }
  const rawP50 = median(raws);
  console.log(`  ${"in-process session.run, batch 1".padEnd(40)} p50 ${rawP50.toFixed(3)} ms`);

  // --- ratios ----------------------------------------------------------------------------------------
  const g = (l: string) => fig[l]!;
  const rows: [string, number, string, boolean][] = [];
  const add = (name: string, v: number, target: string, ok: boolean) => rows.push([name, v, target, ok]);
  const info = (name: string, v: number) => add(name, v, "(info)", true);
  const c1 = g("serve /infer, concurrency 1").p50 / (g("hello-world, concurrency 1").p50 + rawP50);
  add("c1 p50 / (hello p50 + session.run p50)", c1, "<= 1.3", c1 <= 1.3);
  const f1 = g("floor /infer, concurrency 1").p50 / (g("hello-world, concurrency 1").p50 + rawP50);
  info("floor: c1 p50 / (hello p50 + session.run p50)", f1);
  info("c1 p50 / floor c1 p50", g("serve /infer, concurrency 1").p50 / g("floor /infer, concurrency 1").p50);
  const c16 = g("serve /infer, concurrency 16").rps / g("hello-world, concurrency 16").rps;
  add("c16 rps / hello-world c16 rps", c16, ">= 0.55", c16 >= 0.55);
  const f16 = g("floor /infer, concurrency 16").rps / g("hello-world, concurrency 16").rps;
  info("floor: c16 rps / hello-world c16 rps", f16);
  info(
    "c16 rps / floor c16 rps",
    g("serve /infer, concurrency 16").rps / g("floor /infer, concurrency 16").rps,
  );
  const bin = g("serve /infer binary, concurrency 16").rps / g("serve /infer, concurrency 16").rps;
  add("binary c16 rps / JSON c16 rps", bin, ">= 1.8", bin >= 1.8);
  info(
    "JSON cpu/req / binary cpu/req at c16",
    g("serve /infer, concurrency 16").cpuUsPerReq / g("serve /infer binary, concurrency 16").cpuUsPerReq,
  );
  const b = g("serve /infer, concurrency 32 (batched)").rps / g("serve /infer, c32, --max-batch-size 1").rps;
  add("c32 batched rps / unbatched rps", b, ">= 3", b >= 3);
  const bp = g("serve /infer, concurrency 32 (batched)").p50 / g("serve /infer, c32, --max-batch-size 1").p50;
  add("c32 batched p50 / unbatched p50", bp, "<= 1", bp <= 1);
  const bc =
    g("serve /infer, c32, --max-batch-size 1").cpuUsPerReq /
    g("serve /infer, concurrency 32 (batched)").cpuUsPerReq;
  info("c32 unbatched cpu/req / batched cpu/req", bc);
  const hb = g("heavy MLP c32 (batched)").rps / g("heavy MLP c32, --max-batch-size 1").rps;
  add("heavy MLP: c32 batched rps / unbatched rps", hb, ">= 3", hb >= 3);
  const hc = g("heavy MLP c32, --max-batch-size 1").cpuUsPerReq / g("heavy MLP c32 (batched)").cpuUsPerReq;
  info("heavy MLP: unbatched cpu/req / batched cpu/req", hc);
  const h = g("ready p99 under /infer c32 load").p99 / g("ready p99 idle, concurrency 1").p99;
  add("ready p99 under load / idle p99", h, "<= 2", h <= 2);
  const hctl = g("ready p99 under hello-world c32 load").p99 / g("ready p99 idle, concurrency 1").p99;
  info("control: ready p99, load on hello / idle p99", hctl);
  const hs = g("ready p99 under /infer c32 load").p99 / g("ready p99 under hello-world c32 load").p99;
  info("ready p99 under load / control p99", hs);
  if (fig["ready under c32 load, probe at nice -10"]) {
    const hp =
      g("ready under c32 load, probe at nice -10").p99 / g("ready idle, probe client at nice -10").p99;
    info("ready p99 under load / idle, probe at nice -10", hp);
  }
  if (fig["KServe /infer, concurrency 16"]) {
    const p = g("serve /infer, concurrency 16").rps / g("KServe /infer, concurrency 16").rps;
    add("c16 rps / KServe c16 rps", p, ">= 3", p >= 3);
    const pc = g("KServe /infer, concurrency 16").cpuUsPerReq / g("serve /infer, concurrency 16").cpuUsPerReq;
    info("KServe cpu/req / serve cpu/req at c16", pc);
  }
  console.log("\nratios (one run on whatever machine this is; read them with its load in mind)");
  for (const [name, v, target, ok] of rows) {
    console.log(
      `  ${name.padEnd(44)} ${v.toFixed(2).padStart(7)}   target ${target.padEnd(8)} ${target === "(info)" ? "" : ok ? "met" : "NOT met"}`,
    );
  }
  mkdirSync(join(root, "bench/results"), { recursive: true });
  const out = join(root, "bench/results", `runtime-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  writeFileSync(
    out,
    JSON.stringify(
      {
        reps: REPS,
        seconds: SECONDS,
        pinned,
        probePriority: probePrio,
        rawP50,
        figures: fig,
        ratios: Object.fromEntries(rows.map(([n, v, t, ok]) => [n, { value: v, target: t, met: ok }])),
      },
      null,
      2,
    ),
  );
  console.log(`\nwrote ${out}`);
} finally {
  for (const s of Object.values(servers)) await stop(s);
}
