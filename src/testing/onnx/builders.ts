// Ready-made test models (identity, add, MLP, a deliberately slow chain), written as real ONNX files.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeModel, type Dim, type NumericArray, type OnnxDtype } from "./model.js";

export interface BuiltModel {
  bytes: Uint8Array;
}

/** y = x, for any dtype (strings and bools included). */
export function identityModel(opts: {
  dtype: OnnxDtype;
  shape: Dim[];
  input?: string;
  output?: string;
}): BuiltModel {
  const input = opts.input ?? "x";
  const output = opts.output ?? "y";
  return {
    bytes: encodeModel({
      name: "identity",
      inputs: [{ name: input, dtype: opts.dtype, shape: opts.shape }],
      outputs: [{ name: output, dtype: opts.dtype, shape: opts.shape }],
      nodes: [{ op: "Identity", inputs: [input], outputs: [output] }],
    }),
  };
}

/**
 * sum = a + b and diff = a - b (two inputs, two outputs). onnxruntime's CPU Add/Sub kernels cover
 * float32, float64, int32, int64, uint32 and uint64 (float16 too on recent builds).
 */
export function addModel(opts: { dtype: OnnxDtype; shape: Dim[] }): BuiltModel {
  const v = (name: string) => ({ name, dtype: opts.dtype, shape: opts.shape });
  return {
    bytes: encodeModel({
      name: "add",
      inputs: [v("a"), v("b")],
      outputs: [v("sum"), v("diff")],
      nodes: [
        { op: "Add", inputs: ["a", "b"], outputs: ["sum"] },
        { op: "Sub", inputs: ["a", "b"], outputs: ["diff"] },
      ],
    }),
  };
}

/** Deterministic PRNG (mulberry32) so a seed always gives the same weights. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type MlpDtype = "float32" | "float64" | "int32" | "int64";

export interface MlpModel extends BuiltModel {
  /** Layer widths, e.g. [256, 512, 512, 10]. */
  layers: number[];
  dtype: MlpDtype;
  /** Row-major weights [in x out] and biases [out] per layer, as plain numbers for reference maths. */
  weights: number[][];
  biases: number[][];
}

function typedArray(dtype: MlpDtype, values: number[]): NumericArray {
  switch (dtype) {
    case "float32":
      return Float32Array.from(values);
    case "float64":
      return Float64Array.from(values);
    case "int32":
      return Int32Array.from(values);
    case "int64":
      return BigInt64Array.from(values.map((v) => BigInt(v)));
  }
}

/**
 * A multi-layer perceptron: MatMul + Add per layer, Relu between layers (Max(x, 0) for integer dtypes).
 * Input "input" [batch, layers[0]], output "output" [batch, layers.at(-1)]. batch is a symbolic name
 * (dynamic, default "batch") or a fixed size.
 */
export function mlpModel(opts: { layers: number[]; dtype?: MlpDtype; batch?: Dim; seed?: number }): MlpModel {
  const dtype = opts.dtype ?? "float32";
  const batch = opts.batch ?? "batch";
  const rand = seededRandom(opts.seed ?? 42);
  const isInt = dtype === "int32" || dtype === "int64";
  const weights: number[][] = [];
  const biases: number[][] = [];
  const initializers = [];
  const nodes = [];
  let current = "input";
  for (let l = 0; l + 1 < opts.layers.length; l++) {
    const fanIn = opts.layers[l]!;
    const fanOut = opts.layers[l + 1]!;
    const scale = Math.sqrt(2 / fanIn);
    const w = Array.from({ length: fanIn * fanOut }, () =>
      isInt ? Math.floor(rand() * 5) - 2 : Math.fround((rand() * 2 - 1) * scale),
    );
    const b = Array.from({ length: fanOut }, () =>
      isInt ? Math.floor(rand() * 5) - 2 : Math.fround(rand() * 0.2 - 0.1),
    );
    weights.push(w);
    biases.push(b);
    initializers.push({ name: `w${l}`, dtype, dims: [fanIn, fanOut], data: typedArray(dtype, w) });
    initializers.push({ name: `b${l}`, dtype, dims: [fanOut], data: typedArray(dtype, b) });
    const last = l + 2 === opts.layers.length;
    nodes.push({ op: "MatMul", inputs: [current, `w${l}`], outputs: [`mm${l}`] });
    nodes.push({ op: "Add", inputs: [`mm${l}`, `b${l}`], outputs: [last ? "output" : `lin${l}`] });
    if (!last) {
      if (isInt) {
        if (!initializers.some((i) => i.name === "zero"))
          initializers.push({ name: "zero", dtype, dims: [], data: typedArray(dtype, [0]) });
        nodes.push({ op: "Max", inputs: [`lin${l}`, "zero"], outputs: [`act${l}`] });
      } else {
        nodes.push({ op: "Relu", inputs: [`lin${l}`], outputs: [`act${l}`] });
      }
      current = `act${l}`;
    }
  }
  const bytes = encodeModel({
    name: "mlp",
    inputs: [{ name: "input", dtype, shape: [batch, opts.layers[0]!] }],
    outputs: [{ name: "output", dtype, shape: [batch, opts.layers.at(-1)!] }],
    nodes,
    initializers,
  });
  return { bytes, layers: opts.layers, dtype, weights, biases };
}

/** Reference forward pass in float64 (exact for the integer dtypes at these magnitudes). */
export function mlpReference(model: MlpModel, row: number[]): number[] {
  let x = row;
  for (let l = 0; l < model.weights.length; l++) {
    const fanIn = model.layers[l]!;
    const fanOut = model.layers[l + 1]!;
    const w = model.weights[l]!;
    const y = model.biases[l]!.slice();
    for (let i = 0; i < fanIn; i++) {
      const xi = x[i]!;
      if (xi === 0) continue;
      for (let j = 0; j < fanOut; j++) y[j]! += xi * w[i * fanOut + j]!;
    }
    x = l + 1 < model.weights.length ? y.map((v) => Math.max(v, 0)) : y;
  }
  return x;
}

/**
 * A model whose cost the caller controls: `depth` MatMuls by one shared [dim x dim] identity weight, so the
 * output equals the input while each row costs depth*dim^2 multiply-adds. Input "x" [batch, dim] -> "y".
 */
export function slowModel(opts: { dim?: number; depth?: number }): BuiltModel {
  const dim = opts.dim ?? 256;
  const depth = opts.depth ?? 64;
  const w = new Float32Array(dim * dim);
  for (let i = 0; i < dim; i++) w[i * dim + i] = 1;
  const nodes = [];
  let current = "x";
  for (let d = 0; d < depth; d++) {
    const out = d + 1 === depth ? "y" : `h${d}`;
    nodes.push({ op: "MatMul", inputs: [current, "w"], outputs: [out] });
    current = out;
  }
  return {
    bytes: encodeModel({
      name: "slow",
      inputs: [{ name: "x", dtype: "float32", shape: ["batch", dim] }],
      outputs: [{ name: "y", dtype: "float32", shape: ["batch", dim] }],
      nodes,
      initializers: [{ name: "w", dtype: "float32", dims: [dim, dim], data: w }],
    }),
  };
}

/** A fresh directory under the OS temp dir, for test model files. */
export function tempDir(prefix = "modelship-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Writes the model to dir/file and returns the path. */
export function writeModel(model: BuiltModel, dir: string, file = "model.onnx"): string {
  const path = join(dir, file);
  writeFileSync(path, model.bytes);
  return path;
}

/**
 * y[i] = table[indices[i]]: input "indices" int64 [batch], output "y" float32 [batch]. An index outside
 * the table makes onnxruntime fail the run, which tests use to inject a request that fails inside the model.
 */
export function gatherModel(table: number[]): BuiltModel {
  return {
    bytes: encodeModel({
      name: "gather",
      inputs: [{ name: "indices", dtype: "int64", shape: ["batch"] }],
      outputs: [{ name: "y", dtype: "float32", shape: ["batch"] }],
      nodes: [{ op: "Gather", inputs: ["table", "indices"], outputs: ["y"], attributes: { axis: 0 } }],
      initializers: [
        { name: "table", dtype: "float32", dims: [table.length], data: Float32Array.from(table) },
      ],
    }),
  };
}

/**
 * y = x * scale with a rank-0 input, like Silero VAD's sample rate: "x" float32 [batch, width],
 * "scale" float32 [] (a scalar, no batch dimension), output "y" float32 [batch, width].
 */
export function scaleModel(opts: { width?: number } = {}): BuiltModel {
  const width = opts.width ?? 3;
  return {
    bytes: encodeModel({
      name: "scale",
      inputs: [
        { name: "x", dtype: "float32", shape: ["batch", width] },
        { name: "scale", dtype: "float32", shape: [] },
      ],
      outputs: [{ name: "y", dtype: "float32", shape: ["batch", width] }],
      nodes: [{ op: "Mul", inputs: ["x", "scale"], outputs: ["y"] }],
    }),
  };
}
