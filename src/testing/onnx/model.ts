// Encodes a small ONNX graph (nodes, initializers, typed inputs/outputs) as a real ModelProto file.
import { ProtoWriter } from "./protobuf.js";

/** Element types, named as onnxruntime-node names them. */
export type OnnxDtype =
  | "float32"
  | "float64"
  | "float16"
  | "int8"
  | "int16"
  | "int32"
  | "int64"
  | "uint8"
  | "uint16"
  | "uint32"
  | "uint64"
  | "bool"
  | "string";

/** TensorProto.DataType enum values. */
export const ONNX_ELEM_TYPE: Record<OnnxDtype, number> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  uint16: 4,
  int16: 5,
  int32: 6,
  int64: 7,
  string: 8,
  bool: 9,
  float16: 10,
  float64: 11,
  uint32: 12,
  uint64: 13,
};

/** A dimension: a fixed size, or a symbolic name (dynamic), e.g. "N" for the batch dimension. */
export type Dim = number | string;

export interface ValueInfo {
  name: string;
  dtype: OnnxDtype;
  shape: Dim[];
}

export type NumericArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array;

export interface Initializer {
  name: string;
  dtype: OnnxDtype;
  dims: number[];
  /** Little-endian element bytes come from the typed array; strings go into string_data. */
  data: NumericArray | string[];
}

export type AttributeValue = number | string | number[] | { float: number };

export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  attributes?: Record<string, AttributeValue>;
}

export interface GraphSpec {
  name?: string;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  nodes: NodeSpec[];
  initializers?: Initializer[];
  /** Default opset 13: every op used by the builders exists there with the types they use. */
  opset?: number;
  producer?: string;
}

function valueInfo(v: ValueInfo): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of v.shape) {
    const dim = new ProtoWriter();
    if (typeof d === "number") dim.int(1, d);
    else dim.string(2, d);
    shape.message(1, dim);
  }
  const tensorType = new ProtoWriter().int(1, ONNX_ELEM_TYPE[v.dtype]).message(2, shape);
  const type = new ProtoWriter().message(1, tensorType);
  return new ProtoWriter().string(1, v.name).message(2, type);
}

function tensor(init: Initializer): ProtoWriter {
  const t = new ProtoWriter()
    .packedInts(1, init.dims)
    .int(2, ONNX_ELEM_TYPE[init.dtype])
    .string(8, init.name);
  if (Array.isArray(init.data)) {
    for (const s of init.data) t.string(6, s);
  } else {
    const d = init.data;
    t.bytes(9, new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
  }
  return t;
}

function attribute(name: string, value: AttributeValue): ProtoWriter {
  const a = new ProtoWriter().string(1, name);
  if (typeof value === "number") {
    if (!Number.isInteger(value)) throw new Error(`attribute ${name}: use { float } for non-integers`);
    a.int(3, value).int(20, 2);
  } else if (typeof value === "string") {
    a.string(4, value).int(20, 3);
  } else if (Array.isArray(value)) {
    a.packedInts(8, value).int(20, 7);
  } else {
    a.float(2, value.float).int(20, 1);
  }
  return a;
}

/** Serialises the graph as an ONNX ModelProto (IR version 8). */
export function encodeModel(spec: GraphSpec): Uint8Array {
  const graph = new ProtoWriter();
  spec.nodes.forEach((n, i) => {
    const node = new ProtoWriter();
    for (const x of n.inputs) node.string(1, x);
    for (const y of n.outputs) node.string(2, y);
    node.string(3, n.name ?? `${n.op.toLowerCase()}_${i}`).string(4, n.op);
    for (const [k, v] of Object.entries(n.attributes ?? {})) node.message(5, attribute(k, v));
    graph.message(1, node);
  });
  graph.string(2, spec.name ?? "graph");
  for (const init of spec.initializers ?? []) graph.message(5, tensor(init));
  for (const v of spec.inputs) graph.message(11, valueInfo(v));
  for (const v of spec.outputs) graph.message(12, valueInfo(v));

  const opset = new ProtoWriter().string(1, "").int(2, spec.opset ?? 13);
  return new ProtoWriter()
    .int(1, 8)
    .string(2, spec.producer ?? "modelship-testing")
    .string(3, "0.1.0")
    .message(7, graph)
    .message(8, opset)
    .finish();
}
