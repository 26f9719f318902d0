// Open Inference Protocol v2 (and KServe v1) request decoding and response encoding, checked against the model.
import {
  DataError,
  elementCount,
  fromJson,
  ORT_TO_OIP,
  toJsonArray,
  toPlain,
  zeros,
  type OrtType,
  type TensorData,
  type TensorValue,
} from "./datatypes.js";
import { findTooDeep } from "./json-depth.js";
import { clip, quote } from "./quote.js";
import type { Signature, TensorSpec } from "./signature.js";
import { fromRaw, toRaw } from "./tensor-bytes.js";

/** An error the server answers with its status and {"error": message}. */
export class HttpError extends Error {
  override name = "HttpError";
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const bad = (msg: string) => new HttpError(400, msg);

export function describe(t: TensorSpec): string {
  return `"${t.name}" (${ORT_TO_OIP[t.type]} [${t.shape.join(",")}])`;
}

export interface DecodedRequest {
  id?: string;
  feeds: Record<string, TensorValue>;
  /** Output names the client asked for; all outputs when absent. */
  outputs?: string[];
  /** Outputs to answer in the binary tensor data extension; none (a JSON answer) when absent or empty. */
  binaryOutputs?: string[];
}

/** The OIP v2 extensions this server implements, listed by GET /v2. */
export const V2_EXTENSIONS = ["binary_tensor_data", "model_configuration", "statistics"];

/** Nesting allowed in a request body: the v2 envelope takes 3 levels, tensor data one per dimension. */
export const MAX_JSON_DEPTH = 64;

/** The binary tensor data extension's header: the JSON part's length; raw tensor bytes follow it. */
export const HEADER_LENGTH_HEADER = "inference-header-content-length";

/** Parses a JSON body after checking its nesting depth, so nothing recursive ever sees a deep body. */
export function parseJson(raw: Buffer): unknown {
  const deep = findTooDeep(raw, MAX_JSON_DEPTH);
  if (deep !== -1) {
    throw bad(
      `request body nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels (at byte ${deep}); tensor data needs one level per dimension`,
    );
  }
  try {
    return JSON.parse(raw.toString("utf8"));
  } catch (err) {
    throw bad(`request body is not valid JSON: ${clip((err as Error).message)}`);
  }
}

/**
 * Splits an infer body into its JSON part and the raw tensor bytes after it, from the
 * Inference-Header-Content-Length header; without the header the whole body is JSON.
 */
export function splitBody(raw: Buffer, headerLength: string | undefined): { json: Buffer; binary?: Buffer } {
  if (headerLength === undefined) return { json: raw };
  const n = /^\d{1,15}$/.test(headerLength.trim()) ? Number(headerLength) : NaN;
  if (!(n > 0 && n <= raw.length)) {
    throw bad(
      `Inference-Header-Content-Length must be the byte length of the JSON part, between 1 and the body's ${raw.length} bytes; got ${quote(headerLength)}`,
    );
  }
  return { json: raw.subarray(0, n), binary: raw.subarray(n) };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Row-major flattening of nested JSON arrays (the protocol allows both flat and nested data). */
function flatten(data: unknown[]): unknown[] {
  if (data.length === 0 || !Array.isArray(data[0])) return data;
  const out: unknown[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) for (const x of v) walk(x);
    else out.push(v);
  };
  walk(data);
  return out;
}

/** The shape of a nested JSON array, read along its first elements. */
function nestedShape(v: unknown): number[] {
  const shape: number[] = [];
  let cur = v;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0];
  }
  return shape;
}

/** Checks an input's datatype and shape against its spec; returns the shape. Shared with grpc-codec.ts. */
export function checkTensor(spec: TensorSpec, datatype: unknown, shape: unknown): number[] {
  const want = ORT_TO_OIP[spec.type];
  if (datatype !== want) {
    throw bad(`input "${spec.name}" has datatype ${quote(datatype)}, the model expects ${want}`);
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw bad(`input "${spec.name}": "shape" must be an array of non-negative integers`);
  }
  const dims = shape as number[];
  const shapeOk = dims.length === spec.shape.length && spec.shape.every((d, i) => d === -1 || d === dims[i]);
  if (!shapeOk) {
    throw bad(
      `input "${spec.name}" has shape [${dims.join(",")}], the model expects [${spec.shape.join(",")}] (-1 = any size)`,
    );
  }
  return dims;
}

function converted(convert: () => TensorData): TensorData {
  try {
    return convert();
  } catch (err) {
    if (err instanceof DataError) throw bad(err.message);
    throw err;
  }
}

/** An input's JSON "data" -> its typed array, after its shape was checked. */
function decodeJsonData(spec: TensorSpec, dims: number[], data: unknown): TensorValue {
  if (!Array.isArray(data)) throw bad(`input "${spec.name}": "data" must be an array`);
  // The element count is checked against the shape before any typed array is allocated.
  const flat = flatten(data);
  const n = elementCount(dims);
  if (flat.length !== n) {
    throw bad(`input "${spec.name}" has ${flat.length} data elements, shape [${dims.join(",")}] needs ${n}`);
  }
  return { type: spec.type, dims, data: converted(() => fromJson(spec.name, spec.type, flat)) };
}

/** Validates one input tensor against its spec and converts its JSON data. */
function decodeTensor(spec: TensorSpec, datatype: unknown, shape: unknown, data: unknown): TensorValue {
  return decodeJsonData(spec, checkTensor(spec, datatype, shape), data);
}

/** Bytes per element of a fixed-size type: the size of the typed array it is held in. */
function elementBytes(type: Exclude<OrtType, "string">): number {
  return (zeros(type, 0) as Exclude<TensorData, string[]>).BYTES_PER_ELEMENT;
}

/** An input's raw bytes (binary tensor data extension) -> its typed array, after its shape was checked. */
function decodeBinaryData(spec: TensorSpec, dims: number[], bytes: Buffer): TensorValue {
  const n = elementCount(dims);
  if (spec.type !== "string") {
    const want = n * elementBytes(spec.type);
    if (bytes.length !== want) {
      throw bad(
        `input "${spec.name}" has binary_data_size ${bytes.length}, shape [${dims.join(",")}] of ${ORT_TO_OIP[spec.type]} needs ${want} bytes; set it to the tensor's byte length`,
      );
    }
  }
  return {
    type: spec.type,
    dims,
    data: converted(() => fromRaw(`input "${spec.name}"`, spec.type, bytes, n)),
  };
}

/** parameters.binary_data_size of the input named `name`, or undefined when it has none. */
function binaryDataSize(input: Record<string, unknown>, name: string): number | undefined {
  const params = parametersOf(input, `input "${name}"`);
  if (params.shared_memory_region !== undefined) {
    throw bad(`input "${name}": shared memory is not supported; send the tensor in the body`);
  }
  const size = params.binary_data_size;
  if (size === undefined) return undefined;
  if (!Number.isSafeInteger(size) || (size as number) < 0) {
    throw bad(`input "${name}": parameters.binary_data_size must be a byte count, got ${quote(size)}`);
  }
  return size as number;
}

function parametersOf(o: Record<string, unknown>, what: string): Record<string, unknown> {
  if (o.parameters === undefined) return {};
  if (!isRecord(o.parameters)) throw bad(`${what}: "parameters" must be an object`);
  return o.parameters;
}

function booleanParameter(params: Record<string, unknown>, key: string, what: string): boolean | undefined {
  const v = params[key];
  if (v !== undefined && typeof v !== "boolean") {
    throw bad(`${what}: parameters.${key} must be true or false, got ${quote(v)}`);
  }
  return v;
}

/** Every input present and, for a batchable model, one batch size across inputs; shared with grpc-codec.ts. */
export function checkComplete(sig: Signature, feeds: Record<string, TensorValue>, batchable: boolean): void {
  for (const spec of sig.inputs) {
    if (feeds[spec.name] === undefined) throw bad(`missing input ${describe(spec)}`);
  }
  if (batchable) {
    const rows = new Set(Object.values(feeds).map((t) => t.dims[0]));
    if (rows.size > 1)
      throw bad(`inputs disagree on the batch dimension (first dimension): ${[...rows].join(" vs ")}`);
  }
}

/**
 * POST /v2/models/{name}/infer body -> validated tensors. `binary` is the body after the JSON part
 * (binary tensor data extension): the inputs with parameters.binary_data_size take their bytes from it,
 * in input order, and must use all of it.
 */
export function decodeV2(body: unknown, sig: Signature, batchable: boolean, binary?: Buffer): DecodedRequest {
  if (!isRecord(body)) throw bad('request body must be a JSON object with an "inputs" array');
  const inputs = body.inputs;
  if (!Array.isArray(inputs) || inputs.length === 0)
    throw bad('request body needs a non-empty "inputs" array');
  const feeds: Record<string, TensorValue> = {};
  let offset = 0;
  for (const input of inputs) {
    if (!isRecord(input) || typeof input.name !== "string")
      throw bad('every entry of "inputs" needs a "name"');
    const spec = sig.inputs.find((s) => s.name === input.name);
    if (spec === undefined) {
      throw bad(`unknown input ${quote(input.name)}; the model takes ${sig.inputs.map(describe).join(", ")}`);
    }
    if (feeds[spec.name] !== undefined) throw bad(`input "${spec.name}" is given twice`);
    const dims = checkTensor(spec, input.datatype, input.shape);
    const size = binaryDataSize(input, spec.name);
    if (size === undefined) {
      if (input.data === undefined) {
        throw bad(
          `input "${spec.name}" needs "data", or parameters.binary_data_size with its bytes after the JSON`,
        );
      }
      feeds[spec.name] = decodeJsonData(spec, dims, input.data);
      continue;
    }
    if (input.data !== undefined) {
      throw bad(
        `input "${spec.name}" has both "data" and parameters.binary_data_size; send its values once: drop "data" to send them as binary, or drop binary_data_size to send them as JSON`,
      );
    }
    if (binary === undefined) {
      throw bad(
        `input "${spec.name}" has parameters.binary_data_size but the request has no Inference-Header-Content-Length header; set it to the byte length of the JSON part`,
      );
    }
    if (offset + size > binary.length) {
      throw bad(
        `input "${spec.name}" has binary_data_size ${size}, but only ${binary.length - offset} of the ${binary.length} bytes after the JSON part remain for it`,
      );
    }
    feeds[spec.name] = decodeBinaryData(spec, dims, binary.subarray(offset, offset + size));
    offset += size;
  }
  if (binary !== undefined && offset !== binary.length) {
    throw bad(
      `the body has ${binary.length} bytes after the JSON part, but the inputs' binary_data_size add up to ${offset}; they must match exactly (is Inference-Header-Content-Length the JSON part's length?)`,
    );
  }
  checkComplete(sig, feeds, batchable);
  const id = typeof body.id === "string" ? body.id : undefined;
  return { id, feeds, ...decodeOutputs(body, sig) };
}

/** The "outputs" the client asked for, and which of them it wants as binary tensor data. */
function decodeOutputs(
  body: Record<string, unknown>,
  sig: Signature,
): { outputs?: string[]; binaryOutputs?: string[] } {
  // tritonclient sets binary_data_output when it names no outputs; a named output's own flag wins.
  const binaryDefault =
    booleanParameter(parametersOf(body, "request"), "binary_data_output", "request") ?? false;
  if (body.outputs === undefined) {
    return binaryDefault ? { binaryOutputs: sig.outputs.map((s) => s.name) } : {};
  }
  if (!Array.isArray(body.outputs)) throw bad('"outputs" must be an array of {"name": ...}');
  const outputs: string[] = [];
  const binaryOutputs: string[] = [];
  for (const o of body.outputs as unknown[]) {
    const name = isRecord(o) ? o.name : undefined;
    if (typeof name !== "string" || !sig.outputs.some((s) => s.name === name)) {
      throw bad(
        `unknown output ${quote(name)}; the model returns ${sig.outputs.map((s) => `"${s.name}"`).join(", ")}`,
      );
    }
    const what = `output "${name}"`;
    const params = parametersOf(o as Record<string, unknown>, what);
    if (params.classification !== undefined) {
      throw bad(`${what}: the classification extension is not supported; ask for the raw output`);
    }
    if (params.shared_memory_region !== undefined) {
      throw bad(`${what}: shared memory is not supported; the output comes back in the body`);
    }
    outputs.push(name);
    if (booleanParameter(params, "binary_data", what) ?? binaryDefault) binaryOutputs.push(name);
  }
  return binaryOutputs.length > 0 ? { outputs, binaryOutputs } : { outputs };
}

/**
 * A rank-0 input (e.g. Silero VAD's sample rate) has no row dimension to stack instances on: the
 * request gives it one value, so every instance must agree on it.
 */
function decodeScalar(spec: TensorSpec, values: unknown[]): TensorValue {
  const first = values[0];
  if (Array.isArray(first) || isRecord(first)) {
    throw bad(`input ${describe(spec)} is a scalar; give each instance a single value, not ${quote(first)}`);
  }
  const other = values.findIndex((v) => v !== first);
  if (other !== -1) {
    throw bad(
      `input ${describe(spec)} is a scalar, one value for the whole request, but instance ${other} gives ${quote(values[other])} and instance 0 gives ${quote(first)}`,
    );
  }
  return decodeJsonData(spec, [], [first]);
}

/**
 * POST /v1/models/{name}:predict {"instances": [...]}: one instance per row. A single-input model takes
 * each instance as that input's row; a multi-input model takes objects keyed by input name.
 */
export function decodeV1(body: unknown, sig: Signature, batchable: boolean): DecodedRequest {
  if (!isRecord(body) || !Array.isArray(body.instances) || body.instances.length === 0) {
    throw bad('request body needs a non-empty "instances" array');
  }
  const instances = body.instances as unknown[];
  const feeds: Record<string, TensorValue> = {};
  for (const spec of sig.inputs) {
    const rows =
      sig.inputs.length === 1
        ? instances
        : instances.map((inst, i) => {
            if (!isRecord(inst) || !Object.hasOwn(inst, spec.name)) {
              throw bad(`instance ${i} needs a value for input ${describe(spec)}`);
            }
            return inst[spec.name];
          });
    if (spec.shape.length === 0) {
      feeds[spec.name] = decodeScalar(spec, rows);
      continue;
    }
    const rowShape = nestedShape(rows[0]);
    const shape = [rows.length, ...rowShape];
    const data = rows.flatMap((r) => (Array.isArray(r) ? flatten(r) : [r]));
    feeds[spec.name] = decodeTensor(spec, ORT_TO_OIP[spec.type], shape, data);
  }
  checkComplete(sig, feeds, batchable);
  return { feeds };
}

/** One output's entry in the v2 response: its values as JSON "data", or its byte count in the binary part. */
function outputEntry(name: string, t: TensorValue, binarySize?: number): string {
  const head = `{"name":${JSON.stringify(name)},"datatype":"${ORT_TO_OIP[t.type]}","shape":[${t.dims.join(",")}]`;
  if (binarySize !== undefined) return `${head},"parameters":{"binary_data_size":${binarySize}}}`;
  return `${head},"data":${toJsonArray(t.type, t.data)}}`;
}

function responseJson(model: string, version: string, id: string | undefined, entries: string[]): string {
  const idPart = id === undefined ? "" : `"id":${JSON.stringify(id)},`;
  return `{"model_name":${JSON.stringify(model)},"model_version":${JSON.stringify(version)},${idPart}"outputs":[${entries.join(",")}]}`;
}

function selectedOutputs(
  sig: Signature,
  outputs: Record<string, TensorValue>,
  wanted: string[] | undefined,
): [string, TensorValue][] {
  const out: [string, TensorValue][] = [];
  for (const spec of sig.outputs) {
    if (wanted !== undefined && !wanted.includes(spec.name)) continue;
    const t = outputs[spec.name];
    if (t !== undefined) out.push([spec.name, t]);
  }
  return out;
}

/** The v2 response body, written as text so int64 values stay exact. */
export function encodeV2(
  model: string,
  version: string,
  id: string | undefined,
  sig: Signature,
  outputs: Record<string, TensorValue>,
  wanted?: string[],
): string {
  const entries = selectedOutputs(sig, outputs, wanted).map(([name, t]) => outputEntry(name, t));
  return responseJson(model, version, id, entries);
}

/**
 * The v2 response with the binary tensor data extension: the JSON part (outputs in `binary` carry
 * parameters.binary_data_size instead of "data"), then those outputs' raw bytes in the same order.
 * `jsonLength` goes in the Inference-Header-Content-Length header.
 */
export function encodeV2Binary(
  model: string,
  version: string,
  id: string | undefined,
  sig: Signature,
  outputs: Record<string, TensorValue>,
  wanted: string[] | undefined,
  binary: readonly string[],
): { body: Buffer; jsonLength: number } {
  const entries: string[] = [];
  const raws: Uint8Array[] = [];
  for (const [name, t] of selectedOutputs(sig, outputs, wanted)) {
    if (!binary.includes(name)) {
      entries.push(outputEntry(name, t));
      continue;
    }
    const raw = toRaw(t.type, t.data);
    raws.push(raw);
    entries.push(outputEntry(name, t, raw.byteLength));
  }
  const json = Buffer.from(responseJson(model, version, id, entries));
  return { body: Buffer.concat([json, ...raws]), jsonLength: json.length };
}

/** Nests a flat slice back into arrays of the given shape. */
export function nest(flat: unknown[], shape: readonly number[]): unknown {
  if (shape.length === 0) return flat[0];
  if (shape.length === 1) return flat;
  const step = elementCount(shape.slice(1));
  const out: unknown[] = [];
  for (let i = 0; i < shape[0]!; i++) out.push(nest(flat.slice(i * step, (i + 1) * step), shape.slice(1)));
  return out;
}

/** Per-row predictions: the row's value for a single-output model, else an object keyed by output name. */
export function rowsOf(sig: Signature, outputs: Record<string, TensorValue>): unknown[] {
  const specs = sig.outputs.filter((s) => outputs[s.name] !== undefined);
  const first = outputs[specs[0]!.name]!;
  const rows = first.dims.length === 0 ? 1 : first.dims[0]!;
  const perRow = (t: TensorValue, i: number) => {
    if (t.dims.length === 0) return toPlain(t.type, t.data)[0];
    const rowShape = t.dims.slice(1);
    const n = elementCount(rowShape);
    return nest(toPlain(t.type, t.data, i * n, (i + 1) * n), rowShape);
  };
  return Array.from({ length: rows }, (_, i) => {
    if (specs.length === 1) return perRow(first, i);
    return Object.fromEntries(specs.map((s) => [s.name, perRow(outputs[s.name]!, i)]));
  });
}

/** The v1 response body. */
export function encodeV1(sig: Signature, outputs: Record<string, TensorValue>): string {
  return JSON.stringify({ predictions: rowsOf(sig, outputs) });
}

/** Protocol metadata for GET /v2/models/{name}. */
export function modelMetadata(name: string, versions: string[], sig: Signature, provider: string) {
  const t = (s: TensorSpec) => ({ name: s.name, datatype: ORT_TO_OIP[s.type], shape: s.shape });
  return {
    name,
    versions,
    platform: "onnxruntime_onnx",
    parameters: { execution_provider: provider },
    inputs: sig.inputs.map(t),
    outputs: sig.outputs.map(t),
  };
}
