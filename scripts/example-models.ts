// Writes the quick start's model into a model store folder (the local cluster's is .e2e/models):
//   <dir>/iris/1.0.0/model.onnx      the iris classifier (src/testing/onnx/iris.ts), same bytes every time
//   <dir>/iris/1.0.0/train.csv       150 training rows around the class means, seeded
//   <dir>/iris/1.0.0/baseline.json   `modelship baseline` of train.csv, for the drift job
//   <dir>/iris/broken/model.onnx     bytes that are no ONNX model: a release that can never start
// Usage: node --import tsx scripts/example-models.ts <dir>. Prints the model's sha256.
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { main } from "../src/cmd/main.js";
import { seededRandom } from "../src/testing/onnx/builders.js";
import { irisCentroids, irisFeatures, irisModel } from "../src/testing/onnx/iris.js";

const dir = process.argv[2];
if (!dir) {
  console.error("usage: example-models.ts <model store dir>");
  process.exit(2);
}
const out = join(dir, "iris", "1.0.0");
mkdirSync(out, { recursive: true });

const model = irisModel().bytes;
writeFileSync(join(out, "model.onnx"), model);
const sha256 = createHash("sha256").update(model).digest("hex");

// 50 flowers per species, normally spread (sd 0.3 cm) around the class means.
const rand = seededRandom(150);
const normal = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
const rows = [irisFeatures.join(",")];
for (const mu of irisCentroids)
  for (let i = 0; i < 50; i++)
    rows.push(mu.map((m) => Math.max(0.1, m + 0.3 * normal()).toFixed(2)).join(","));
writeFileSync(join(out, "train.csv"), rows.join("\n") + "\n");

// A "model" onnxruntime refuses: the real-pod tests roll a canary of it back.
mkdirSync(join(dir, "iris", "broken"), { recursive: true });
writeFileSync(join(dir, "iris", "broken", "model.onnx"), "this is not an ONNX model\n");

const code = await main(["baseline", "--data", join(out, "train.csv"), "--out", join(out, "baseline.json")]);
if (code !== 0) process.exit(code);
console.log(sha256);
