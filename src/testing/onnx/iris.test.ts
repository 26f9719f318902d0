import assert from "node:assert/strict";
import { test } from "node:test";
import * as ort from "onnxruntime-node";
import { irisClasses, irisModel, irisReference } from "./iris.js";

// Three flowers of Fisher's data set (rows 1, 100 and 101), one per species.
const flowers: [number[], (typeof irisClasses)[number]][] = [
  [[5.1, 3.5, 1.4, 0.2], "setosa"],
  [[5.7, 2.8, 4.1, 1.3], "versicolor"],
  [[6.3, 3.3, 6.0, 2.5], "virginica"],
];

test("the iris model, run by onnxruntime, names each flower's species and matches the reference", async () => {
  const session = await ort.InferenceSession.create(irisModel().bytes);
  const rows = flowers.map(([x]) => x);
  const input = new ort.Tensor("float32", Float32Array.from(rows.flat()), [rows.length, 4]);
  const out = await session.run({ input });
  const labels = Array.from(out.label!.data as BigInt64Array, Number);
  assert.deepEqual(
    labels.map((l) => irisClasses[l]),
    flowers.map(([, species]) => species),
  );
  const probs = out.probabilities!.data as Float32Array;
  rows.forEach((row, r) => {
    const ref = irisReference(row);
    assert.equal(labels[r], ref.label);
    ref.probabilities.forEach((p, k) =>
      assert.ok(Math.abs(probs[r * 3 + k]! - p) < 1e-5, `row ${r} class ${k}`),
    );
  });
  await session.release();
});
