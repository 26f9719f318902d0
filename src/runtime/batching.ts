// Pure batching maths: concatenate requests along dimension 0 and split results back by row counts.
import { elementCount, type TensorData, type TensorValue } from "./datatypes.js";

/** Requests may share a batch only when every input agrees on all dimensions after the first. */
export function shapeKey(feeds: Record<string, TensorValue>): string {
  let key = "";
  for (const name of Object.keys(feeds).sort()) key += `${name}:${feeds[name]!.dims.slice(1).join("x")};`;
  return key;
}

/** Rows a request contributes: its inputs' shared first dimension. */
export function rowCount(feeds: Record<string, TensorValue>): number {
  const first = Object.values(feeds)[0];
  return first === undefined || first.dims.length === 0 ? 1 : first.dims[0]!;
}

function concatData(parts: TensorData[], total: number): TensorData {
  const first = parts[0]!;
  if (Array.isArray(first)) return ([] as string[]).concat(...(parts as string[][]));
  const Ctor = first.constructor as new (n: number) => Exclude<TensorData, string[]>;
  const out = new Ctor(total);
  let off = 0;
  for (const p of parts as Exclude<TensorData, string[]>[]) {
    (out as Float32Array).set(p as Float32Array, off);
    off += p.length;
  }
  return out;
}

/** Concatenates same-shaped requests into one feed dictionary along dimension 0. */
export function concatFeeds(requests: Record<string, TensorValue>[]): Record<string, TensorValue> {
  if (requests.length === 1) return requests[0]!;
  const out: Record<string, TensorValue> = {};
  for (const name of Object.keys(requests[0]!)) {
    const parts = requests.map((r) => r[name]!);
    const rows = parts.reduce((n, p) => n + p.dims[0]!, 0);
    const dims = [rows, ...parts[0]!.dims.slice(1)];
    out[name] = {
      type: parts[0]!.type,
      dims,
      data: concatData(
        parts.map((p) => p.data),
        elementCount(dims),
      ),
    };
  }
  return out;
}

/**
 * Splits batch outputs back into one dictionary per request, in order. Returns null when an output's
 * first dimension is not the batch's row count (the model does not batch on dim 0 after all).
 */
export function splitOutputs(
  outputs: Record<string, TensorValue>,
  rows: readonly number[],
): Record<string, TensorValue>[] | null {
  if (rows.length === 1) return [outputs];
  const total = rows.reduce((a, b) => a + b, 0);
  const result: Record<string, TensorValue>[] = rows.map(() => ({}));
  for (const [name, t] of Object.entries(outputs)) {
    if (t.dims.length === 0 || t.dims[0] !== total) return null;
    const per = elementCount(t.dims.slice(1));
    let row = 0;
    rows.forEach((n, i) => {
      const start = row * per;
      const end = (row + n) * per;
      const data = Array.isArray(t.data)
        ? t.data.slice(start, end)
        : (t.data.subarray(start, end) as TensorData);
      result[i]![name] = { type: t.type, dims: [n, ...t.dims.slice(1)], data };
      row += n;
    });
  }
  return result;
}
