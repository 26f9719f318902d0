// A real, small iris classifier for the quick start, the demo and the real-pod e2e tests: nearest
// centroid over Fisher's class means, written as a linear layer + Softmax + ArgMax, so every output is
// known in closed form (irisReference) and a flower from the data set gets its own species.
import { encodeModel } from "./model.js";
import type { BuiltModel } from "./builders.js";

export const irisFeatures = ["sepal_length", "sepal_width", "petal_length", "petal_width"] as const;
export const irisClasses = ["setosa", "versicolor", "virginica"] as const;

/** The class means of Fisher's iris data (cm), in irisFeatures order. */
export const irisCentroids: readonly (readonly number[])[] = [
  [5.006, 3.428, 1.462, 0.246],
  [5.936, 2.77, 4.26, 1.326],
  [6.588, 2.974, 5.552, 2.026],
];

/**
 * Nearest centroid as a linear model: logit_k = x . mu_k - |mu_k|^2 / 2 (the squared distance up to a
 * term shared by all classes), so argmax(logit) is the nearest class mean.
 */
function linearWeights(): { w: number[]; b: number[] } {
  const w: number[] = [];
  for (let f = 0; f < irisFeatures.length; f++) for (const mu of irisCentroids) w.push(Math.fround(mu[f]!));
  const b = irisCentroids.map((mu) => Math.fround(-mu.reduce((s, m) => s + Math.fround(m) ** 2, 0) / 2));
  return { w, b };
}

/**
 * Input "input" float32 [batch, 4]; outputs "probabilities" float32 [batch, 3] (softmax of the logits)
 * and "label" int64 [batch] (the index into irisClasses).
 */
export function irisModel(): BuiltModel {
  const { w, b } = linearWeights();
  return {
    bytes: encodeModel({
      name: "iris-nearest-centroid",
      producer: "modelship",
      inputs: [{ name: "input", dtype: "float32", shape: ["batch", 4] }],
      outputs: [
        { name: "probabilities", dtype: "float32", shape: ["batch", 3] },
        { name: "label", dtype: "int64", shape: ["batch"] },
      ],
      initializers: [
        { name: "w", dtype: "float32", dims: [4, 3], data: Float32Array.from(w) },
        { name: "b", dtype: "float32", dims: [3], data: Float32Array.from(b) },
      ],
      nodes: [
        { op: "MatMul", inputs: ["input", "w"], outputs: ["xw"] },
        { op: "Add", inputs: ["xw", "b"], outputs: ["logits"] },
        { op: "Softmax", inputs: ["logits"], outputs: ["probabilities"], attributes: { axis: 1 } },
        { op: "ArgMax", inputs: ["logits"], outputs: ["label"], attributes: { axis: 1, keepdims: 0 } },
      ],
    }),
  };
}

/** The model's outputs in float64 maths: probabilities agree with onnxruntime to ~1e-6, labels exactly. */
export function irisReference(row: readonly number[]): { probabilities: number[]; label: number } {
  const logits = irisCentroids.map(
    (mu) => mu.reduce((s, m, f) => s + m * row[f]!, 0) - mu.reduce((s, m) => s + m * m, 0) / 2,
  );
  const max = Math.max(...logits);
  const exp = logits.map((l) => Math.exp(l - max));
  const sum = exp.reduce((s, e) => s + e, 0);
  return { probabilities: exp.map((e) => e / sum), label: logits.indexOf(max) };
}
