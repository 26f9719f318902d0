// Closed-loop gRPC load generator for GRPCInferenceService.ModelInfer: N concurrent callers on one HTTP/2
// connection (as tritonclient's gRPC client keeps one channel), fixed duration, tensors as
// raw_input_contents (the standard clients' default). Prints the same JSON as load.ts.
// Usage: load-grpc.ts HOST:PORT MODEL CONCURRENCY SECONDS BODY_FILE   (BODY_FILE: an OIP v2 JSON request)
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { credentials, type Client, type ServiceError } from "@grpc/grpc-js";
import { inferenceService } from "../../src/runtime/grpc-server.js";

const [target, model, concArg, secondsArg, bodyFile] = process.argv.slice(2);
const concurrency = Number(concArg);
const seconds = Number(secondsArg);

interface JsonInput {
  name: string;
  datatype: string;
  shape: number[];
  data: number[];
}

const ARRAYS: Record<string, (d: number[]) => ArrayBufferView> = {
  FP32: (d) => Float32Array.from(d),
  FP64: (d) => Float64Array.from(d),
  INT64: (d) => BigInt64Array.from(d, (x) => BigInt(x)),
  INT32: (d) => Int32Array.from(d),
};

const body = JSON.parse(readFileSync(bodyFile!, "utf8")) as { inputs: JsonInput[] };
const request = {
  model_name: model,
  inputs: body.inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape })),
  raw_input_contents: body.inputs.map((t) => {
    const a = ARRAYS[t.datatype]!(t.data);
    return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  }),
};

const Service = inferenceService();
type Unary = (req: unknown, done: (err: ServiceError | null) => void) => void;
const client = new Service(target!, credentials.createInsecure()) as unknown as Client & {
  ModelInfer: Unary;
};
const call = (): Promise<void> =>
  new Promise((resolve, reject) => client.ModelInfer(request, (err) => (err ? reject(err) : resolve())));

const lat: number[] = [];
const statuses = new Map<string, number>();
let errors = 0;
const end = performance.now() + seconds * 1000;

async function loop(): Promise<void> {
  while (performance.now() < end) {
    const t0 = performance.now();
    try {
      await call();
      lat.push(performance.now() - t0);
      statuses.set("OK", (statuses.get("OK") ?? 0) + 1);
    } catch (err) {
      errors++;
      const code = String((err as ServiceError).code ?? "error");
      statuses.set(code, (statuses.get(code) ?? 0) + 1);
    }
  }
}

await call(); // connects before the clock starts
const started = performance.now();
const cpu0 = process.cpuUsage();
await Promise.all(Array.from({ length: concurrency }, loop));
const elapsed = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpu0);
client.close();
lat.sort((a, b) => a - b);
const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? NaN;
process.stdout.write(
  JSON.stringify({
    requests: lat.length,
    rps: lat.length / elapsed,
    p50: pct(0.5),
    p99: pct(0.99),
    errors,
    clientCpu: (cpu.user + cpu.system) / 1e6 / elapsed,
    statuses: Object.fromEntries(statuses),
  }) + "\n",
);
