// ModelInferRequest -> validated tensors and tensors -> ModelInferResponse for the gRPC front end,
// checked against the model with the JSON path's rules and messages (protocol.ts).
import { status } from "@grpc/grpc-js";
import {
  DataError,
  elementCount,
  fromJson,
  ORT_TO_OIP,
  type OrtType,
  type TensorData,
  type TensorValue,
  zeros,
} from "./datatypes.js";
import { checkComplete, checkTensor, describe, HttpError, type DecodedRequest } from "./protocol.js";
import { clip, quote } from "./quote.js";
import { InferenceError, QueueFullError, TimeoutError } from "./scheduler.js";
import type { Signature, TensorSpec } from "./signature.js";
import { fromRaw, toRaw } from "./tensor-bytes.js";

// Messages as proto-loader hands them over (grpc-server.ts LOADER_OPTIONS): field names as in the
// .proto, 64-bit integers as decimal strings, absent scalars and lists as their defaults, absent
// messages as null.

export interface InferTensorContents {
  bool_contents: boolean[];
  int_contents: number[];
  int64_contents: string[];
  uint_contents: number[];
  uint64_contents: string[];
  fp32_contents: number[];
  fp64_contents: number[];
  bytes_contents: Uint8Array[];
}

export interface InferInputTensor {
  name: string;
  datatype: string;
  shape: string[];
  /** Only the keys are read: the extensions they turn on are refused by name. */
  parameters: Record<string, unknown>;
  contents: InferTensorContents | null;
}

export interface ModelInferRequest {
  model_name: string;
  model_version: string;
  id: string;
  inputs: InferInputTensor[];
  outputs: { name: string; parameters: Record<string, unknown> }[];
  raw_input_contents: Uint8Array[];
}

export interface InferOutputTensor {
  name: string;
  datatype: string;
  shape: number[];
  contents?: Partial<Record<keyof InferTensorContents, unknown[]>>;
}

export interface ModelInferResponse {
  model_name: string;
  model_version: string;
  id: string;
  outputs: InferOutputTensor[];
  raw_output_contents: Uint8Array[];
}

export interface GrpcDecodedRequest extends DecodedRequest {
  /** The inputs came as raw_input_contents, so the outputs go back as raw_output_contents. */
  raw: boolean;
}

/** Where each element type's values go in InferTensorContents; FP16 has no field and travels raw only. */
const CONTENTS_FIELD: Record<OrtType, keyof InferTensorContents | undefined> = {
  bool: "bool_contents",
  int8: "int_contents",
  int16: "int_contents",
  int32: "int_contents",
  int64: "int64_contents",
  uint8: "uint_contents",
  uint16: "uint_contents",
  uint32: "uint_contents",
  uint64: "uint64_contents",
  float16: undefined,
  float32: "fp32_contents",
  float64: "fp64_contents",
  string: "bytes_contents",
};

const bad = (msg: string) => new HttpError(400, msg);

function filledFields(contents: InferTensorContents | null): (keyof InferTensorContents)[] {
  if (contents === null) return [];
  return (Object.keys(contents) as (keyof InferTensorContents)[]).filter((k) => contents[k]?.length > 0);
}

/** Typed contents -> tensor data: the one field the datatype uses, with the JSON path's range checks. */
function fromContents(spec: TensorSpec, contents: InferTensorContents | null, dims: number[]): TensorData {
  const n = elementCount(dims);
  const field = CONTENTS_FIELD[spec.type];
  const filled = filledFields(contents);
  if (field === undefined) {
    if (n === 0) return zeros(spec.type, 0);
    throw bad(
      `input "${spec.name}" is ${ORT_TO_OIP[spec.type]}, which has no typed contents field: send it in raw_input_contents`,
    );
  }
  const stray = filled.find((f) => f !== field);
  if (stray !== undefined) {
    throw bad(
      `input "${spec.name}" is ${ORT_TO_OIP[spec.type]}: its values go in contents.${field}, not contents.${stray}`,
    );
  }
  const values = contents?.[field] ?? [];
  if (values.length !== n) {
    throw bad(
      `input "${spec.name}" has ${values.length} values in contents.${field}, shape [${dims.join(",")}] needs ${n}`,
    );
  }
  // 64-bit values arrive as exact decimal strings; the wire type already bounds them.
  if (spec.type === "int64") return BigInt64Array.from(values as string[], (v) => BigInt(v));
  if (spec.type === "uint64") return BigUint64Array.from(values as string[], (v) => BigInt(v));
  if (spec.type === "string") return (values as Uint8Array[]).map((b) => Buffer.from(b).toString("utf8"));
  try {
    return fromJson(spec.name, spec.type, values);
  } catch (err) {
    if (err instanceof DataError) throw bad(err.message);
    throw err;
  }
}

/** ModelInferRequest -> validated feeds, the outputs asked for, and whether the answer goes raw. */
export function decodeInferRequest(
  req: ModelInferRequest,
  sig: Signature,
  batchable: boolean,
): GrpcDecodedRequest {
  if (req.inputs.length === 0) throw bad("ModelInferRequest needs at least one entry in inputs");
  const raw = req.raw_input_contents.length > 0;
  if (raw && req.raw_input_contents.length !== req.inputs.length) {
    throw bad(
      `raw_input_contents has ${req.raw_input_contents.length} entries for ${req.inputs.length} inputs: ` +
        "give one per input, in the order of inputs, or none",
    );
  }
  const feeds: Record<string, TensorValue> = {};
  req.inputs.forEach((input, i) => {
    const spec = sig.inputs.find((s) => s.name === input.name);
    if (spec === undefined) {
      throw bad(`unknown input ${quote(input.name)}; the model takes ${sig.inputs.map(describe).join(", ")}`);
    }
    if (feeds[spec.name] !== undefined) throw bad(`input "${spec.name}" is given twice`);
    if (Object.hasOwn(input.parameters, "shared_memory_region")) {
      throw bad(`input "${spec.name}": shared memory is not supported; send the tensor in the request`);
    }
    // int64 dims arrive as decimal strings; beyond 2^53 they fail checkTensor's safe-integer test.
    const dims = checkTensor(spec, input.datatype, input.shape.map(Number));
    let data: TensorData;
    if (raw) {
      if (filledFields(input.contents).length > 0) {
        throw bad(`input "${spec.name}" has both contents and raw_input_contents[${i}]; send one of them`);
      }
      try {
        data = fromRaw(`input "${spec.name}"`, spec.type, req.raw_input_contents[i]!, elementCount(dims));
      } catch (err) {
        if (err instanceof DataError) throw bad(err.message);
        throw err;
      }
    } else {
      data = fromContents(spec, input.contents, dims);
    }
    feeds[spec.name] = { type: spec.type, dims, data };
  });
  checkComplete(sig, feeds, batchable);
  const outputs =
    req.outputs.length === 0
      ? undefined
      : req.outputs.map(({ name, parameters }) => {
          if (!sig.outputs.some((s) => s.name === name)) {
            throw bad(
              `unknown output ${quote(name)}; the model returns ${sig.outputs.map((s) => `"${s.name}"`).join(", ")}`,
            );
          }
          // The same refusals as the JSON path's: these ask for answers this server does not give.
          for (const key of ["shared_memory_region", "classification"]) {
            if (Object.hasOwn(parameters, key)) {
              throw bad(`output "${name}": parameters.${key} is not supported; ask for the plain output`);
            }
          }
          return name;
        });
  return { id: req.id === "" ? undefined : req.id, feeds, outputs, raw };
}

/** Tensor data -> the values of its typed contents field (64-bit integers as exact decimal strings). */
function toContents(t: TensorValue): unknown[] {
  switch (t.type) {
    case "bool":
      return Array.from(t.data as Uint8Array, (v) => v !== 0);
    case "int64":
    case "uint64":
      return Array.from(t.data as BigInt64Array, (v) => v.toString());
    case "string":
      return (t.data as string[]).map((s) => Buffer.from(s, "utf8"));
    default:
      return Array.from(t.data as Float32Array);
  }
}

/**
 * The response. Outputs go as raw_output_contents when the inputs came raw (what KServe does, and
 * what tritonclient.grpc reads), or when an output is FP16 (no typed field; raw is all or none).
 */
export function encodeInferResponse(
  model: string,
  version: string,
  id: string | undefined,
  sig: Signature,
  outputs: Record<string, TensorValue>,
  wanted: string[] | undefined,
  raw: boolean,
): ModelInferResponse {
  const chosen = sig.outputs
    .filter((s) => wanted === undefined || wanted.includes(s.name))
    .flatMap((s) => (outputs[s.name] === undefined ? [] : [{ name: s.name, t: outputs[s.name]! }]));
  const asRaw = raw || chosen.some(({ t }) => CONTENTS_FIELD[t.type] === undefined);
  return {
    model_name: model,
    model_version: version,
    id: id ?? "",
    outputs: chosen.map(({ name, t }) => ({
      name,
      datatype: ORT_TO_OIP[t.type],
      shape: t.dims,
      ...(asRaw ? {} : { contents: { [CONTENTS_FIELD[t.type]!]: toContents(t) } }),
    })),
    raw_output_contents: asRaw ? chosen.map(({ t }) => toRaw(t.type, t.data)) : [],
  };
}

export interface GrpcFailure {
  code: status;
  details: string;
  /** The HTTP status the same failure gets on the JSON path: the `code` label of the request metrics. */
  http: number;
  /** A server fault rather than the request's: worth an error log. */
  unexpected: boolean;
}

const FROM_HTTP: Record<number, status> = {
  400: status.INVALID_ARGUMENT,
  404: status.NOT_FOUND,
  413: status.RESOURCE_EXHAUSTED,
  503: status.UNAVAILABLE,
  504: status.DEADLINE_EXCEEDED,
};

/** The gRPC status for an error thrown while answering, mirroring the HTTP path's choices in server.ts. */
export function failureOf(err: unknown): GrpcFailure {
  // Details travel in a trailer: bounded, whatever client value (a model name, say) the message quotes.
  const message = clip(err instanceof Error ? err.message : String(err), 1024);
  if (err instanceof HttpError) {
    return {
      code: FROM_HTTP[err.status] ?? status.INTERNAL,
      details: message,
      http: err.status,
      unexpected: false,
    };
  }
  if (err instanceof QueueFullError) {
    return { code: status.RESOURCE_EXHAUSTED, details: message, http: 503, unexpected: false };
  }
  if (err instanceof TimeoutError) {
    return { code: status.DEADLINE_EXCEEDED, details: message, http: 504, unexpected: false };
  }
  if (err instanceof InferenceError) {
    return {
      code: status.INVALID_ARGUMENT,
      details: `model rejected the inputs: ${message}`,
      http: 400,
      unexpected: false,
    };
  }
  return { code: status.INTERNAL, details: "internal error", http: 500, unexpected: true };
}
