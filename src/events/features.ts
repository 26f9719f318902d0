import type { EventTensor, FeatureRow, FeatureSchema, FeatureValue } from "./schema.js";
import { flatten, type ParsedBody } from "./oip.js";

function toValue(v: unknown): FeatureValue {
  if (typeof v === "number" || typeof v === "string" || typeof v === "boolean") return v;
  if (typeof v === "bigint") return Number(v);
  return null;
}

function rowsOf(t: EventTensor): number {
  return t.shape.length === 0 ? 1 : (t.shape[0] ?? 0);
}

/** Values per row of a tensor that holds one value per row ([N] or [N,1]); undefined otherwise. */
function perRow(t: EventTensor): unknown[] | undefined {
  if (t.data === undefined) return undefined;
  const flat = flatten(t.data);
  const rows = rowsOf(t);
  return flat.length === rows ? flat : undefined;
}

/**
 * Maps request tensors onto the feature schema, one object per batch row:
 * 1. input tensors named like features give those features (one value per row);
 * 2. otherwise one 2-D input [N, F] with F == number of features gives the columns in schema order;
 * 3. KServe v1 instances that are objects are read by key, arrays of length F by position.
 * Returns undefined when the request does not fit the schema (the event then carries tensors only).
 */
export function mapFeatures(schema: FeatureSchema, request: ParsedBody): FeatureRow[] | undefined {
  if (schema.length === 0) return undefined;
  if (request.rows !== undefined) return fromRows(schema, request.rows);

  const byName = new Map(request.tensors.map((t) => [t.name, t]));
  const named = schema.filter((f) => byName.has(f.name));
  if (named.length > 0) {
    let n = -1;
    const columns = new Map<string, unknown[]>();
    for (const f of named) {
      const values = perRow(byName.get(f.name) as EventTensor);
      if (values === undefined) continue;
      if (n === -1) n = values.length;
      if (values.length !== n) return undefined;
      columns.set(f.name, values);
    }
    if (n === -1) return undefined;
    const rows: FeatureRow[] = [];
    for (let r = 0; r < n; r++) {
      const row: FeatureRow = {};
      for (const f of schema) {
        const col = columns.get(f.name);
        if (col !== undefined) row[f.name] = toValue(col[r]);
      }
      rows.push(row);
    }
    return rows;
  }

  const matrices = request.tensors.filter((t) => t.shape.length === 2 && t.shape[1] === schema.length);
  if (request.tensors.length !== 1 || matrices.length !== 1) return undefined;
  const m = matrices[0] as EventTensor;
  if (m.data === undefined) return undefined;
  const flat = flatten(m.data);
  const n = m.shape[0] ?? 0;
  const f = schema.length;
  if (flat.length !== n * f) return undefined;
  const rows: FeatureRow[] = [];
  for (let r = 0; r < n; r++) {
    const row: FeatureRow = {};
    schema.forEach((spec, c) => (row[spec.name] = toValue(flat[r * f + c])));
    rows.push(row);
  }
  return rows;
}

function fromRows(schema: FeatureSchema, rows: unknown[]): FeatureRow[] | undefined {
  const out: FeatureRow[] = [];
  for (const inst of rows) {
    const row: FeatureRow = {};
    if (Array.isArray(inst)) {
      if (inst.length !== schema.length) return undefined;
      schema.forEach((spec, c) => (row[spec.name] = toValue(inst[c])));
    } else if (typeof inst === "object" && inst !== null) {
      const rec = inst as Record<string, unknown>;
      for (const spec of schema) if (spec.name in rec) row[spec.name] = toValue(rec[spec.name]);
    } else {
      return undefined;
    }
    out.push(row);
  }
  return out;
}
