// Open Inference Protocol v2 (and KServe v1) request decoding and response encoding, checked against the model.
import {
  DataError,
  elementCount,
  fromJson,
  ORT_TO_OIP,
  toJsonArray,
  toPlain,
  type TensorValue,
} from "./datatypes.js";
import type { Signature, TensorSpec } from "./signature.js";

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

/** Validates one input tensor against its spec and converts its data. */
function decodeTensor(spec: TensorSpec, datatype: unknown, shape: unknown, data: unknown): TensorValue {
  const want = ORT_TO_OIP[spec.type];
  if (datatype !== want) {
    throw bad(`input "${spec.name}" has datatype ${JSON.stringify(datatype)}, the model expects ${want}`);
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw bad(`input "${spec.name}": "shape" must be an array of non-negative integers`);
  }
  const dims = shape as number[];
  const shapeOk = dims.length === spec.shape.length && spec.shape.every((d, i) => d === -1 || d === dims[i]);
  if (!shapeOk) {
    throw bad(
      `input "${spec.name}" has shape [${dims.join(",")}], the model expects [${spec.shape.join(",")}] (-1 = any size)`,
    );
  }
  if (!Array.isArray(data)) throw bad(`input "${spec.name}": "data" must be an array`);
  const flat = flatten(data);
  const n = elementCount(dims);
  if (flat.length !== n) {
    throw bad(`input "${spec.name}" has ${flat.length} data elements, shape [${dims.join(",")}] needs ${n}`);
  }
  try {
    return { type: spec.type, dims, data: fromJson(spec.name, spec.type, flat) };
  } catch (err) {
    if (err instanceof DataError) throw bad(err.message);
    throw err;
  }
}

function checkComplete(sig: Signature, feeds: Record<string, TensorValue>, batchable: boolean): void {
  for (const spec of sig.inputs) {
    if (feeds[spec.name] === undefined) throw bad(`missing input ${describe(spec)}`);
  }
  if (batchable) {
    const rows = new Set(Object.values(feeds).map((t) => t.dims[0]));
    if (rows.size > 1)
      throw bad(`inputs disagree on the batch dimension (first dimension): ${[...rows].join(" vs ")}`);
  }
}

/** POST /v2/models/{name}/infer body -> validated tensors. */
export function decodeV2(body: unknown, sig: Signature, batchable: boolean): DecodedRequest {
  if (!isRecord(body)) throw bad('request body must be a JSON object with an "inputs" array');
  const inputs = body.inputs;
  if (!Array.isArray(inputs) || inputs.length === 0)
    throw bad('request body needs a non-empty "inputs" array');
  const feeds: Record<string, TensorValue> = {};
  for (const input of inputs) {
    if (!isRecord(input) || typeof input.name !== "string")
      throw bad('every entry of "inputs" needs a "name"');
    const spec = sig.inputs.find((s) => s.name === input.name);
    if (spec === undefined) {
      throw bad(`unknown input "${input.name}"; the model takes ${sig.inputs.map(describe).join(", ")}`);
    }
    if (feeds[spec.name] !== undefined) throw bad(`input "${spec.name}" is given twice`);
    feeds[spec.name] = decodeTensor(spec, input.datatype, input.shape, input.data);
  }
  checkComplete(sig, feeds, batchable);
  let outputs: string[] | undefined;
  if (body.outputs !== undefined) {
    if (!Array.isArray(body.outputs)) throw bad('"outputs" must be an array of {"name": ...}');
    outputs = body.outputs.map((o) => {
      const name = isRecord(o) ? o.name : undefined;
      if (typeof name !== "string" || !sig.outputs.some((s) => s.name === name)) {
        throw bad(
          `unknown output ${JSON.stringify(name)}; the model returns ${sig.outputs.map((s) => `"${s.name}"`).join(", ")}`,
        );
      }
      return name;
    });
  }
  const id = typeof body.id === "string" ? body.id : undefined;
  return { id, feeds, outputs };
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
            if (!isRecord(inst) || !(spec.name in inst)) {
              throw bad(`instance ${i} needs a value for input ${describe(spec)}`);
            }
            return inst[spec.name];
          });
    const rowShape = nestedShape(rows[0]);
    const shape = [rows.length, ...rowShape];
    const data = rows.flatMap((r) => (Array.isArray(r) ? flatten(r) : [r]));
    feeds[spec.name] = decodeTensor(spec, ORT_TO_OIP[spec.type], shape, data);
  }
  checkComplete(sig, feeds, batchable);
  return { feeds };
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
  const parts: string[] = [];
  for (const spec of sig.outputs) {
    if (wanted !== undefined && !wanted.includes(spec.name)) continue;
    const t = outputs[spec.name];
    if (t === undefined) continue;
    parts.push(
      `{"name":${JSON.stringify(spec.name)},"datatype":"${ORT_TO_OIP[t.type]}","shape":[${t.dims.join(",")}],"data":${toJsonArray(t.type, t.data)}}`,
    );
  }
  const idPart = id === undefined ? "" : `"id":${JSON.stringify(id)},`;
  return `{"model_name":${JSON.stringify(model)},"model_version":${JSON.stringify(version)},${idPart}"outputs":[${parts.join(",")}]}`;
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
