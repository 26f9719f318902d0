// The baseline: onnxruntime session.run in-process, batch 1, no HTTP; prints latency percentiles as JSON.
import { performance } from "node:perf_hooks";
import ort from "onnxruntime-node";

const [path, itersArg] = process.argv.slice(2);
const iters = Number(itersArg ?? 2000);
const session = await ort.InferenceSession.create(path!, { intraOpNumThreads: 1, interOpNumThreads: 1 });
const x = Float32Array.from({ length: 256 }, (_, i) => Math.sin(i));
const feeds = () => ({ input: new ort.Tensor("float32", x.slice(), [1, 256]) });
for (let i = 0; i < 200; i++) await session.run(feeds());
const lat: number[] = [];
for (let i = 0; i < iters; i++) {
  const t0 = performance.now();
  await session.run(feeds());
  lat.push(performance.now() - t0);
}
lat.sort((a, b) => a - b);
process.stdout.write(
  JSON.stringify({ p50: lat[Math.floor(lat.length / 2)], p99: lat[Math.floor(lat.length * 0.99)] }) + "\n",
);
