import { test } from "node:test";
import assert from "node:assert/strict";
import ort from "onnxruntime-node";
import {
  addModel,
  identityModel,
  mlpModel,
  mlpReference,
  scaleModel,
  seededRandom,
  slowModel,
  tempDir,
  writeModel,
} from "./builders.js";
import type { OnnxDtype } from "./model.js";

const dir = tempDir();

async function load(bytes: Uint8Array, file: string) {
  return ort.InferenceSession.create(writeModel({ bytes }, dir, file));
}

test("MLP float32 matches the reference forward pass, dynamic batch", async () => {
  const m = mlpModel({ layers: [8, 16, 4], seed: 7 });
  const s = await load(m.bytes, "mlp32.onnx");
  assert.deepEqual(s.inputNames, ["input"]);
  const meta = s.inputMetadata[0];
  assert.ok(meta?.isTensor);
  assert.deepEqual(meta.shape, ["batch", 8]);
  const rand = seededRandom(1);
  const rows = Array.from({ length: 3 }, () => Array.from({ length: 8 }, () => rand() * 2 - 1));
  const out = await s.run({ input: new ort.Tensor("float32", Float32Array.from(rows.flat()), [3, 8]) });
  const y = out.output!;
  assert.deepEqual(y.dims, [3, 4]);
  rows.forEach((r, i) => {
    const ref = mlpReference(m, r.map(Math.fround));
    ref.forEach((v, j) =>
      assert.ok(Math.abs((y.data as Float32Array)[i * 4 + j]! - v) < 1e-4, `row ${i} col ${j}`),
    );
  });
});

for (const dtype of ["float64", "int32", "int64"] as const) {
  test(`MLP ${dtype} matches the reference forward pass`, async () => {
    const m = mlpModel({ layers: [5, 6, 3], dtype, seed: 3, batch: 2 });
    const s = await load(m.bytes, `mlp-${dtype}.onnx`);
    const rows = [
      [1, 2, 3, 4, 5],
      [-1, 0, 2, -3, 1],
    ];
    const flat = rows.flat();
    const data =
      dtype === "float64"
        ? Float64Array.from(flat)
        : dtype === "int32"
          ? Int32Array.from(flat)
          : BigInt64Array.from(flat.map(BigInt));
    const out = await s.run({ input: new ort.Tensor(dtype, data, [2, 5]) });
    const got = Array.from(out.output!.data as ArrayLike<number | bigint>, Number);
    const want = rows.flatMap((r) => mlpReference(m, r));
    want.forEach((v, i) => assert.ok(Math.abs(got[i]! - v) < 1e-9, `element ${i}: ${got[i]} vs ${v}`));
  });
}

const identityCases: [OnnxDtype, ArrayLike<unknown>][] = [
  ["float32", Float32Array.from([1.5, -2])],
  ["float64", Float64Array.from([1.5, -2])],
  ["float16", Uint16Array.from([0x3c00, 0xc000])],
  ["int8", Int8Array.from([-128, 127])],
  ["int16", Int16Array.from([-3, 4])],
  ["int32", Int32Array.from([-3, 4])],
  ["int64", BigInt64Array.from([-3n, 4n])],
  ["uint8", Uint8Array.from([0, 255])],
  ["uint16", Uint16Array.from([0, 65535])],
  ["uint32", Uint32Array.from([0, 4000000000])],
  ["uint64", BigUint64Array.from([0n, 18000000000000000000n])],
  ["bool", Uint8Array.from([1, 0])],
  ["string", ["héllo", ""]],
];
for (const [dtype, data] of identityCases) {
  test(`identity model round-trips ${dtype}`, async () => {
    const s = await load(identityModel({ dtype, shape: ["n"] }).bytes, `id-${dtype}.onnx`);
    const out = await s.run({ x: new ort.Tensor(dtype, data as never, [2]) });
    assert.equal(out.y!.type, dtype);
    assert.deepEqual(Array.from(out.y!.data as ArrayLike<unknown>), Array.from(data));
  });
}

test("add model gives sum and difference", async () => {
  const s = await load(addModel({ dtype: "int64", shape: [2] }).bytes, "add.onnx");
  const out = await s.run({
    a: new ort.Tensor("int64", BigInt64Array.from([5n, 7n]), [2]),
    b: new ort.Tensor("int64", BigInt64Array.from([1n, 10n]), [2]),
  });
  assert.deepEqual(Array.from(out.sum!.data as BigInt64Array), [6n, 17n]);
  assert.deepEqual(Array.from(out.diff!.data as BigInt64Array), [4n, -3n]);
});

test("slow model returns its input", async () => {
  const s = await load(slowModel({ dim: 16, depth: 3 }).bytes, "slow.onnx");
  const x = Float32Array.from({ length: 32 }, (_, i) => i);
  const out = await s.run({ x: new ort.Tensor("float32", x, [2, 16]) });
  assert.deepEqual(Array.from(out.y!.data as Float32Array), Array.from(x));
});

test("scale model takes a rank-0 input", async () => {
  const s = await load(scaleModel({ width: 3 }).bytes, "scale.onnx");
  assert.deepEqual(s.inputMetadata[1]?.isTensor && s.inputMetadata[1].shape, []);
  const out = await s.run({
    x: new ort.Tensor("float32", Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3]),
    scale: new ort.Tensor("float32", Float32Array.from([0.5]), []),
  });
  assert.deepEqual([...(out.y!.data as Float32Array)], [0.5, 1, 1.5, 2, 2.5, 3]);
});
