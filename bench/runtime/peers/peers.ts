// bench/runtime/peers: peer model servers that serve an ONNX model through onnxruntime (Python), for
// bench/runtime to measure side by side with modelship's own server:
//   - MLServer (PyPI mlserver) with a custom runtime (mlserver_runtime.py), parallel_workers 0 or 1;
//   - Triton Inference Server from the nvidia-pytriton wheel, its tritonserver binary run directly with
//     a generated model repository whose model.py (triton_model.py) runs onnxruntime in the Python backend.
// Each lives in its own venv under <root>/.cache (created on first use, pip output on stderr), with
// onnxruntime pinned to the onnxruntime-node version modelship runs, so both sides run the same kernels.
// Spawn a PeerCommand as spawn(cmd, args, { env: { ...process.env, ...peer.env } }); the process is the
// server itself (in the foreground) and SIGTERM stops it with its children. Call cleanup() afterwards:
// it kills whatever a SIGKILLed server left behind (e.g. Triton's backend stub) and removes its files.
// Triton on SIGTERM first waits for open client connections to close, then unloads the model (its stub
// exits with it); when --exit-timeout-secs (5) runs out first, it exits without unloading and the stub
// lives on for ~1.5 s until it notices: cleanup() kills it at once and removes its /dev/shm regions.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { InferenceSession } from "onnxruntime-node";

export interface ModelIO {
  name: string;
  /** OIP datatype: FP32, INT64, ... */
  datatype: string;
  /** -1 for a variable dim; [] for a scalar. */
  shape: number[];
}

export interface PeerModel {
  name: string;
  /** The .onnx file. */
  path: string;
  inputs: ModelIO[];
  outputs: ModelIO[];
}

export interface PeerCommand {
  cmd: string;
  args: string[];
  /** Variables to set on top of process.env (PATH, when present, is complete). */
  env: Record<string, string>;
  /** GET returns 200 when the model is ready. */
  readyPath: string;
  inferPath(model: string): string;
  label: string;
  /** The server's own version (Triton: as its GET /v2 reports it). */
  version: string;
  /** e.g. "onnxruntime 1.30.0": the inference library inside the peer. */
  runtime: string;
  /**
   * The shape a request must declare for an input, given the model's own: Triton rejects rank-0 tensors
   * in a non-batching model ("scalar tensors are not supported"), so a scalar travels as [1] there.
   */
  wireShape(input: string, shape: number[]): number[];
  /** Whether the server takes the binary tensor data extension (tritonclient's default). */
  binaryData: boolean;
  cleanup(): void;
}

export const MLSERVER_VERSION = "1.7.1";
export const PYTRITON_VERSION = "0.5.14";
const HERE = dirname(fileURLToPath(import.meta.url));
const MARKER = "MODELSHIP_BENCH_PEER";

interface Facts {
  pyver: string;
  libdir: string | null;
  ldlibrary: string | null;
  site: string;
  versions: Record<string, string | null>;
}

/** The onnxruntime-node version modelship runs, to pin the Python onnxruntime to (undefined: unpinned). */
function ortNodeVersion(root: string): string | undefined {
  try {
    const pkg = JSON.parse(
      readFileSync(join(root, "node_modules/onnxruntime-node/package.json"), "utf8"),
    ) as {
      version?: string;
    };
    return pkg.version;
  } catch {
    return undefined;
  }
}

const PROBE = `
import json, sys, sysconfig
from importlib.metadata import version, PackageNotFoundError
def v(name):
    try:
        return version(name)
    except PackageNotFoundError:
        return None
names = sys.argv[1:]
for mod in ("numpy", "onnxruntime"):
    __import__(mod)
print(json.dumps({
    "pyver": "%d.%d" % sys.version_info[:2],
    "libdir": sysconfig.get_config_var("LIBDIR"),
    "ldlibrary": sysconfig.get_config_var("INSTSONAME") or sysconfig.get_config_var("LDLIBRARY"),
    "site": sysconfig.get_paths()["purelib"],
    "versions": {n: v(n) for n in names},
}))
`;

function probe(py: string, names: string[]): Facts | undefined {
  if (!existsSync(py)) return undefined;
  const r = spawnSync(py, ["-c", PROBE, ...names], { encoding: "utf8" });
  if (r.status !== 0) return undefined;
  try {
    return JSON.parse(r.stdout) as Facts;
  } catch {
    return undefined;
  }
}

/**
 * A venv at <root>/.cache/<name> holding `pins` (name -> exact version, or "" for any) plus `extra` pip
 * requirement specifiers; created or repaired when a probe says it is not so. Progress goes to stderr.
 */
function ensureVenv(
  root: string,
  name: string,
  pins: Record<string, string>,
  extra: string[] = [],
  problem: (f: Facts) => string | undefined = () => undefined,
): { dir: string; py: string; facts: Facts } | { why: string } {
  const dir = join(root, ".cache", name);
  const py = join(dir, "bin/python");
  const names = Object.keys(pins);
  const wrong = (f: Facts | undefined): string | undefined => {
    if (f === undefined) return "missing or broken";
    for (const [n, want] of Object.entries(pins)) {
      const have = f.versions[n];
      if (have === null || have === undefined) return `${n} missing`;
      if (want !== "" && have !== want) return `${n} ${have}, want ${want}`;
    }
    return problem(f);
  };
  const before = probe(py, names);
  const why = wrong(before);
  if (why === undefined) return { dir, py, facts: before! };
  process.stderr.write(`bench/runtime/peers: preparing the venv .cache/${name} (${why}) ...\n`);
  mkdirSync(join(root, ".cache"), { recursive: true });
  if (!existsSync(py)) {
    const mk = spawnSync("python3", ["-m", "venv", dir], { stdio: ["ignore", 2, 2] });
    if (mk.status !== 0) return { why: `python3 -m venv ${dir} failed (status ${mk.status})` };
  }
  const extraNames = new Set(extra.map((s) => s.split(/[<>=!~ ;[]/)[0]));
  const specs = [
    ...Object.entries(pins)
      .filter(([n]) => !extraNames.has(n))
      .map(([n, v]) => (v === "" ? n : `${n}==${v}`)),
    ...extra,
  ];
  process.stderr.write(`bench/runtime/peers: pip install ${specs.join(" ")}\n`);
  const pip = spawnSync(py, ["-m", "pip", "install", "--disable-pip-version-check", ...specs], {
    stdio: ["ignore", 2, 2],
  });
  if (pip.status !== 0) return { why: `pip install ${specs.join(" ")} failed in .cache/${name}` };
  const after = probe(py, names);
  const still = wrong(after);
  if (still !== undefined) return { why: `.cache/${name} after pip install: ${still}` };
  return { dir, py, facts: after! };
}

/** SIGKILLs every process that carries MARKER=value in its environment (what a dead server left). */
function killMarked(value: string): number[] {
  const needle = Buffer.from(`${MARKER}=${value}\0`);
  const killed: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let env: Buffer;
    try {
      env = readFileSync(`/proc/${entry}/environ`);
    } catch {
      continue;
    }
    if (env.includes(needle)) {
      try {
        process.kill(Number(entry), "SIGKILL");
        killed.push(Number(entry));
      } catch {
        /* gone */
      }
    }
  }
  return killed;
}

const safe = (s: string) => s.replace(/[^A-Za-z0-9_.-]/g, "_");
const tag = () => randomBytes(4).toString("hex");

// --- MLServer --------------------------------------------------------------------------------------

export function mlserverPeer(opts: {
  root: string;
  workDir: string;
  model: PeerModel;
  parallelWorkers: 0 | 1;
  ports: { http: number; grpc: number; metrics: number };
}): PeerCommand | { why: string } {
  const ort = ortNodeVersion(opts.root) ?? "";
  // uvloop >= 0.22 makes asyncio.get_event_loop() raise without a running loop, which kills MLServer
  // 1.7.1's parallel workers at start ("There is no current event loop in thread 'MainThread'").
  const venv = ensureVenv(
    opts.root,
    "bench-mlserver-venv",
    { mlserver: MLSERVER_VERSION, onnxruntime: ort, numpy: "", uvloop: "" },
    ["uvloop<0.22"],
    (f) => {
      const [maj, min] = (f.versions.uvloop ?? "0.0").split(".").map(Number);
      return maj === 0 && (min ?? 0) >= 22 ? `uvloop ${f.versions.uvloop} (want < 0.22)` : undefined;
    },
  );
  if ("why" in venv) return venv;
  const { model, ports } = opts;
  const mark = `mlserver-${tag()}`;
  const dir = join(opts.workDir, `mlserver-${safe(model.name)}-pw${opts.parallelWorkers}-${ports.http}`);
  rmSync(dir, { recursive: true, force: true });
  const modelDir = join(dir, safe(model.name));
  mkdirSync(modelDir, { recursive: true });
  writeFileSync(
    join(dir, "settings.json"),
    JSON.stringify(
      {
        debug: false,
        host: "127.0.0.1",
        http_port: ports.http,
        grpc_port: ports.grpc,
        metrics_port: ports.metrics,
        // No metrics server and no per-request metrics middleware (modelship's bench server logs none either).
        metrics_endpoint: null,
        parallel_workers: opts.parallelWorkers,
        environments_dir: join(dir, "envs"),
        metrics_dir: join(dir, "metrics"),
        load_models_at_startup: true,
      },
      null,
      2,
    ),
  );
  writeFileSync(
    join(modelDir, "model-settings.json"),
    JSON.stringify(
      {
        name: model.name,
        implementation: "mlserver_runtime.OnnxRuntime",
        parameters: { uri: model.path },
      },
      null,
      2,
    ),
  );
  const pythonPath = [HERE, process.env.PYTHONPATH].filter(Boolean).join(":");
  return {
    cmd: venv.py,
    args: [join(venv.dir, "bin/mlserver"), "start", dir],
    env: { PYTHONPATH: pythonPath, PYTHONUNBUFFERED: "1", PYTHONDONTWRITEBYTECODE: "1", [MARKER]: mark },
    readyPath: `/v2/models/${model.name}/ready`,
    inferPath: (m) => `/v2/models/${m}/infer`,
    label: `MLServer ${venv.facts.versions.mlserver}, custom onnxruntime runtime, parallel_workers=${opts.parallelWorkers}`,
    version: venv.facts.versions.mlserver!,
    runtime: `onnxruntime ${venv.facts.versions.onnxruntime}`,
    wireShape: (_input, shape) => shape,
    binaryData: false,
    cleanup: () => {
      const left = killMarked(mark);
      if (left.length > 0) process.stderr.write(`mlserver peer: killed leftover pids ${left.join(",")}\n`);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// --- KServe ----------------------------------------------------------------------------------------

/** KServe's Python model server with an onnxruntime Model (kserve_model.py): 1 worker, no gRPC. */
export function kservePeer(opts: {
  root: string;
  model: PeerModel;
  port: number;
}): PeerCommand | { why: string } {
  const ort = ortNodeVersion(opts.root) ?? "";
  const venv = ensureVenv(opts.root, "bench-runtime-venv", { kserve: "", onnxruntime: ort, numpy: "" });
  if ("why" in venv) return venv;
  const mark = `kserve-${tag()}`;
  return {
    cmd: venv.py,
    args: [
      join(HERE, "kserve_model.py"),
      "--model_name",
      opts.model.name,
      "--model_path",
      opts.model.path,
      "--port",
      String(opts.port),
    ],
    env: { PYTHONUNBUFFERED: "1", PYTHONDONTWRITEBYTECODE: "1", [MARKER]: mark },
    readyPath: `/v2/models/${opts.model.name}/ready`,
    inferPath: (m) => `/v2/models/${m}/infer`,
    label: `KServe ${venv.facts.versions.kserve} Python model server, onnxruntime Model, 1 worker`,
    version: venv.facts.versions.kserve!,
    runtime: `onnxruntime ${venv.facts.versions.onnxruntime}`,
    wireShape: (_input, shape) => shape,
    binaryData: false,
    cleanup: () => {
      killMarked(mark);
    },
  };
}

// --- Triton ----------------------------------------------------------------------------------------

const TRITON_TYPES: Record<string, string> = {
  BOOL: "TYPE_BOOL",
  UINT8: "TYPE_UINT8",
  UINT16: "TYPE_UINT16",
  UINT32: "TYPE_UINT32",
  UINT64: "TYPE_UINT64",
  INT8: "TYPE_INT8",
  INT16: "TYPE_INT16",
  INT32: "TYPE_INT32",
  INT64: "TYPE_INT64",
  FP16: "TYPE_FP16",
  FP32: "TYPE_FP32",
  FP64: "TYPE_FP64",
  BF16: "TYPE_BF16",
  BYTES: "TYPE_STRING",
};

/** Why the model cannot take Triton's dynamic batcher, or undefined when it can. */
function unbatchable(model: PeerModel): string | undefined {
  const bad = [...model.inputs, ...model.outputs]
    .filter((t) => t.shape.length === 0 || t.shape[0] !== -1)
    .map((t) => `${t.name} [${t.shape.join(",")}]`);
  return bad.length === 0
    ? undefined
    : `dynamic batching needs every input and output batched along a variable leading dim; not so: ${bad.join(", ")}`;
}

function configPbtxt(model: PeerModel, dynamic: boolean): string | { why: string } {
  const tensor = (t: ModelIO) => {
    const type = TRITON_TYPES[t.datatype];
    if (type === undefined) throw new Error(`${t.name}: datatype ${t.datatype} has no Triton type`);
    // Triton has no rank-0 tensors in a non-batching model: a scalar is declared [1] (model.py reshapes it).
    const dims = dynamic ? t.shape.slice(1) : t.shape.length === 0 ? [1] : t.shape;
    return `  { name: ${JSON.stringify(t.name)} data_type: ${type} dims: [ ${dims.join(", ")} ] }`;
  };
  try {
    return [
      `name: ${JSON.stringify(model.name)}`,
      `backend: "python"`,
      `max_batch_size: ${dynamic ? 64 : 0}`,
      `input [\n${model.inputs.map(tensor).join(",\n")}\n]`,
      `output [\n${model.outputs.map(tensor).join(",\n")}\n]`,
      `instance_group [ { kind: KIND_CPU count: 1 } ]`,
      ...(dynamic ? ["dynamic_batching { }"] : []),
      `parameters { key: "onnx_path" value: { string_value: ${JSON.stringify(model.path)} } }`,
      "",
    ].join("\n");
  } catch (err) {
    return { why: (err as Error).message };
  }
}

/** The tritonserver's version from its GET /v2, cached beside the venv per binary (size, mtime). */
function tritonVersion(
  py: string,
  venvDir: string,
  binary: string,
  env: Record<string, string>,
  workDir: string,
): string | { why: string } {
  const st = statSync(binary);
  const key = `${binary} ${st.size} ${st.mtimeMs}`;
  const cache = join(venvDir, ".modelship-triton-version.json");
  try {
    const c = JSON.parse(readFileSync(cache, "utf8")) as { key: string; version: string };
    if (c.key === key) return c.version;
  } catch {
    /* none yet */
  }
  const repo = join(workDir, `triton-version-repo-${tag()}`);
  mkdirSync(repo, { recursive: true });
  const r = spawnSync(py, [join(HERE, "triton_version.py"), binary, repo], {
    encoding: "utf8",
    env: { ...process.env, ...env },
    timeout: 90_000,
  });
  rmSync(repo, { recursive: true, force: true });
  const version = r.stdout?.trim();
  if (r.status !== 0 || !version)
    return { why: `tritonserver would not report its version: ${r.stderr?.trim()}` };
  writeFileSync(cache, JSON.stringify({ key, version }));
  return version;
}

export function tritonPeer(opts: {
  root: string;
  workDir: string;
  model: PeerModel;
  dynamicBatching: boolean;
  ports: { http: number; grpc: number; metrics: number };
}): PeerCommand | { why: string } {
  const { model, ports } = opts;
  if (opts.dynamicBatching) {
    const why = unbatchable(model);
    if (why !== undefined) return { why: `${model.name}: ${why}` };
  }
  const ort = ortNodeVersion(opts.root) ?? "";
  const venv = ensureVenv(opts.root, "bench-triton-venv", {
    "nvidia-pytriton": PYTRITON_VERSION,
    onnxruntime: ort,
    numpy: "",
  });
  if ("why" in venv) return venv;
  const { facts } = venv;
  const pkg = join(facts.site, "pytriton", "tritonserver");
  const binary = join(pkg, "bin", "tritonserver");
  const libs = join(facts.site, "nvidia_pytriton.libs");
  const stubs = join(pkg, "python_backend_stubs");
  const stub = join(stubs, facts.pyver, "triton_python_backend_stub");
  if (!existsSync(binary)) return { why: `no tritonserver binary in the nvidia-pytriton wheel (${binary})` };
  if (!existsSync(stub)) {
    const have = existsSync(stubs) ? readdirSync(stubs).join(", ") : "none";
    return { why: `no Python backend stub for Python ${facts.pyver} in nvidia-pytriton (has: ${have})` };
  }
  // The stub links libpython<ver>.so; point it at the venv's own base interpreter's, when it has one
  // (else the loader picks the system's). It finds the venv itself as pytriton does: the first python3
  // on PATH is the venv's, whose pyvenv.cfg puts the venv's site-packages on sys.path.
  const ldPath = [libs];
  if (facts.libdir && facts.ldlibrary && existsSync(join(facts.libdir, facts.ldlibrary)))
    ldPath.push(facts.libdir);
  if (process.env.LD_LIBRARY_PATH) ldPath.push(process.env.LD_LIBRARY_PATH);
  const mark = `triton-${tag()}`;
  const shmPrefix = `modelship_bench_${tag()}_`;
  const env: Record<string, string> = {
    LD_LIBRARY_PATH: ldPath.join(":"),
    PATH: [join(venv.dir, "bin"), process.env.PATH ?? "/usr/bin:/bin"].join(":"),
    [MARKER]: mark,
  };
  const version = tritonVersion(venv.py, venv.dir, binary, env, opts.workDir);
  if (typeof version !== "string") return version;
  const config = configPbtxt(model, opts.dynamicBatching);
  if (typeof config !== "string") return config;

  const dir = join(
    opts.workDir,
    `triton-${safe(model.name)}-${opts.dynamicBatching ? "dyn" : "plain"}-${ports.http}`,
  );
  rmSync(dir, { recursive: true, force: true });
  // pytriton's own layout (pytriton/triton.py): the wheel's backends dir with the stub for this Python
  // copied in as backends/python/triton_python_backend_stub, where the Python backend looks for it.
  const backend = join(dir, "backends", "python");
  mkdirSync(backend, { recursive: true });
  for (const f of ["libtriton_python.so", "triton_python_backend_utils.py"])
    copyFileSync(join(pkg, "backends", "python", f), join(backend, f));
  copyFileSync(stub, join(backend, "triton_python_backend_stub"));
  chmodSync(join(backend, "triton_python_backend_stub"), 0o755);
  const modelDir = join(dir, "repo", model.name);
  mkdirSync(join(modelDir, "1"), { recursive: true });
  writeFileSync(join(modelDir, "config.pbtxt"), config);
  // The stub's interpreter does not take PYTHONPATH from us; model.py puts the venv on sys.path itself.
  writeFileSync(
    join(modelDir, "1", "model.py"),
    `SITE_PACKAGES = ${JSON.stringify(facts.site)}\n` + readFileSync(join(HERE, "triton_model.py"), "utf8"),
  );
  const scalars = new Set(model.inputs.filter((i) => i.shape.length === 0).map((i) => i.name));
  return {
    cmd: binary,
    args: [
      `--model-repository=${join(dir, "repo")}`,
      `--backend-directory=${join(dir, "backends")}`,
      "--http-address=127.0.0.1",
      `--http-port=${ports.http}`,
      "--allow-grpc=false",
      `--grpc-port=${ports.grpc}`,
      "--allow-metrics=false",
      `--metrics-port=${ports.metrics}`,
      `--backend-config=python,shm-region-prefix-name=${shmPrefix}`,
      "--exit-on-error=true",
      "--exit-timeout-secs=5",
    ],
    env,
    readyPath: `/v2/models/${model.name}/ready`,
    inferPath: (m) => `/v2/models/${m}/infer`,
    label: `Triton ${version}, Python backend` + (opts.dynamicBatching ? " + dynamic batching" : ""),
    version,
    runtime: `onnxruntime ${facts.versions.onnxruntime}`,
    wireShape: (input, shape) =>
      !opts.dynamicBatching && scalars.has(input) && shape.length === 0 ? [1] : shape,
    binaryData: true,
    cleanup: () => {
      const left = killMarked(mark);
      if (left.length > 0) process.stderr.write(`triton peer: killed leftover pids ${left.join(",")}\n`);
      try {
        for (const f of readdirSync("/dev/shm"))
          if (f.startsWith(shmPrefix)) rmSync(join("/dev/shm", f), { force: true });
      } catch {
        /* no /dev/shm */
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// --- describing a model ----------------------------------------------------------------------------

const OIP_TYPES: Record<string, string> = {
  float32: "FP32",
  float64: "FP64",
  float16: "FP16",
  int8: "INT8",
  int16: "INT16",
  int32: "INT32",
  int64: "INT64",
  uint8: "UINT8",
  uint16: "UINT16",
  uint32: "UINT32",
  uint64: "UINT64",
  bool: "BOOL",
  string: "BYTES",
};

/** A PeerModel from the .onnx file itself (onnxruntime-node's metadata); a symbolic dim becomes -1. */
export async function peerModelFromOnnx(name: string, path: string): Promise<PeerModel> {
  // A CommonJS package: depending on the loader, its exports arrive as the namespace or as its default.
  const mod = (await import("onnxruntime-node")) as typeof import("onnxruntime-node") & {
    default?: typeof import("onnxruntime-node");
  };
  const ort = mod.default ?? mod;
  const session = await ort.InferenceSession.create(path);
  try {
    const io = (m: readonly InferenceSession.ValueMetadata[]): ModelIO[] =>
      m.map((v) => {
        if (!v.isTensor) throw new Error(`${path}: ${v.name} is not a tensor`);
        const datatype = OIP_TYPES[v.type];
        if (datatype === undefined) throw new Error(`${path}: ${v.name} has type ${v.type}`);
        return { name: v.name, datatype, shape: v.shape.map((d) => (typeof d === "number" ? d : -1)) };
      });
    return { name, path, inputs: io(session.inputMetadata), outputs: io(session.outputMetadata) };
  } finally {
    await session.release();
  }
}
