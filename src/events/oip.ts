import type { EventTensor } from "./schema.js";

/** What the logger understood of one request or response body. */
export interface ParsedBody {
  /** The OIP/KServe request or response id. */
  id?: string;
  tensors: EventTensor[];
  parameters?: Record<string, unknown>;
  /** KServe v1 only: the raw instances/predictions list, one entry per row. */
  rows?: unknown[];
}

export type Protocol = "v2" | "v1";

/** The routes whose POSTs are inference calls and get an event; everything else is proxied silently. */
export function inferenceProtocol(method: string, path: string): Protocol | undefined {
  if (method !== "POST") return undefined;
  if (/^\/v2\/models\/[^/]+(\/versions\/[^/]+)?\/infer$/.test(path)) return "v2";
  if (/^\/v1\/models\/[^/:]+:(predict|explain)$/.test(path)) return "v1";
  return undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function toTensor(v: unknown): EventTensor | undefined {
  if (!isRecord(v) || typeof v.name !== "string" || typeof v.datatype !== "string") return undefined;
  if (!Array.isArray(v.shape) || !v.shape.every((d) => Number.isInteger(d) && (d as number) >= 0)) {
    return undefined;
  }
  const t: EventTensor = { name: v.name, shape: v.shape as number[], datatype: v.datatype };
  if (isRecord(v.parameters)) t.parameters = v.parameters;
  if (Array.isArray(v.data)) t.data = v.data;
  return t;
}

/** Flattens OIP nested (row-major) data into the flat form; flat data is returned as is. */
export function flatten(data: unknown[]): unknown[] {
  if (!data.some(Array.isArray)) return data;
  const out: unknown[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) for (const x of v) walk(x);
    else out.push(v);
  };
  walk(data);
  return out;
}

function guessDatatype(values: unknown[]): string {
  const flat = flatten(values);
  if (flat.every((x) => typeof x === "boolean")) return "BOOL";
  if (flat.every((x) => typeof x === "number")) {
    return flat.every((x) => Number.isInteger(x)) ? "INT64" : "FP64";
  }
  if (flat.every((x) => typeof x === "string")) return "BYTES";
  return "JSON";
}

function shapeOf(values: unknown[]): number[] {
  const shape = [values.length];
  let first: unknown = values[0];
  while (Array.isArray(first)) {
    shape.push(first.length);
    first = first[0];
  }
  return shape;
}

/** KServe v1 rows as a tensor, so v1 and v2 events read the same way. */
function rowsTensor(name: string, rows: unknown[]): EventTensor {
  if (rows.some(isRecord)) return { name, shape: [rows.length], datatype: "JSON", data: rows };
  return { name, shape: shapeOf(rows), datatype: guessDatatype(rows), data: rows };
}

/**
 * Parses an inference request body. Returns undefined when the body is not a valid request for the
 * protocol (bad JSON, no tensors): the caller records the raw body instead.
 */
export function parseRequest(protocol: Protocol, body: unknown): ParsedBody | undefined {
  if (!isRecord(body)) return undefined;
  const parsed: ParsedBody = { tensors: [] };
  if (typeof body.id === "string") parsed.id = body.id;
  if (isRecord(body.parameters)) parsed.parameters = body.parameters;
  if (protocol === "v1") {
    const rows = Array.isArray(body.instances)
      ? body.instances
      : Array.isArray(body.inputs)
        ? body.inputs
        : null;
    if (rows === null) return undefined;
    parsed.rows = rows;
    parsed.tensors = [rowsTensor("instances", rows)];
    return parsed;
  }
  if (!Array.isArray(body.inputs)) return undefined;
  for (const raw of body.inputs) {
    const t = toTensor(raw);
    if (t === undefined) return undefined;
    parsed.tensors.push(t);
  }
  return parsed;
}

/** Parses an inference response body; undefined means malformed (no outputs). */
export function parseResponse(protocol: Protocol, body: unknown): ParsedBody | undefined {
  if (!isRecord(body)) return undefined;
  const parsed: ParsedBody = { tensors: [] };
  if (typeof body.id === "string") parsed.id = body.id;
  if (isRecord(body.parameters)) parsed.parameters = body.parameters;
  if (protocol === "v1") {
    if (!Array.isArray(body.predictions)) return undefined;
    parsed.rows = body.predictions;
    parsed.tensors = [rowsTensor("predictions", body.predictions)];
    return parsed;
  }
  if (!Array.isArray(body.outputs)) return undefined;
  for (const raw of body.outputs) {
    const t = toTensor(raw);
    if (t === undefined || t.data === undefined) return undefined;
    parsed.tensors.push(t);
  }
  return parsed;
}

/**
 * One prediction per batch row from the first output: a value for shape [N] or [N,1], an array of the
 * remaining values for [N, k...]. v1 predictions are taken as they are.
 */
export function predictionsOf(response: ParsedBody): unknown[] | undefined {
  if (response.rows !== undefined) return response.rows;
  const first = response.tensors[0];
  if (first?.data === undefined) return undefined;
  return predictionRows(first.shape, flatten(first.data));
}

/** predictionsOf's grouping of a first output's flat values (or their JSON tokens) by row. */
export function predictionRows<T>(shape: number[], flat: T[]): (T | T[])[] {
  if (shape.length === 0) return flat.slice(0, 1);
  const rows = shape[0] ?? 0;
  if (rows === 0) return [];
  const per = Math.floor(flat.length / rows);
  if (per <= 1) return flat.slice(0, rows);
  const out: T[][] = [];
  for (let r = 0; r < rows; r++) out.push(flat.slice(r * per, (r + 1) * per));
  return out;
}

/** The message of an OIP error body ({"error": "..."}), or the body's first characters. */
export function errorMessage(body: Buffer | undefined, fallback: string): string {
  if (body === undefined || body.length === 0) return fallback;
  const text = body.subarray(0, 2048).toString("utf8");
  try {
    const parsed: unknown = JSON.parse(body.toString("utf8"));
    if (isRecord(parsed) && typeof parsed.error === "string") return parsed.error;
  } catch {
    // not JSON: fall through to the raw text
  }
  return text.trim() === "" ? fallback : text.slice(0, 512);
}
