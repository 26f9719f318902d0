// Turning one input row into a model instance: pure, so the mapping rules are table-tested.
import type { Signature, TensorSpec } from "../runtime/signature.js";

export class RowError extends Error {
  override name = "RowError";
}

/** CSV gives strings; numeric inputs take them as numbers ("" and non-numbers stay, and get rejected by name). */
function coerce(v: unknown, spec: TensorSpec): unknown {
  if (Array.isArray(v)) return v.map((x) => coerce(x, spec));
  if (typeof v !== "string" || spec.type === "string") return v;
  if (spec.type === "bool") return v === "true" || v === "1" ? true : v === "false" || v === "0" ? false : v;
  const t = v.trim();
  const n = Number(t);
  return t !== "" && Number.isFinite(n) ? n : v;
}

/**
 * The v1-style instance for a row (an object of field -> value), after removing the id field:
 *  - a field named like each model input gives that input's value (one instance per row);
 *  - else a single-input model of shape [-1, F] takes the row's other F fields, in order, as its features.
 */
export function rowToInstance(row: Record<string, unknown>, sig: Signature, idField: string): unknown {
  const fields = Object.keys(row).filter((k) => k !== idField);
  if (sig.inputs.every((s) => Object.hasOwn(row, s.name))) {
    if (sig.inputs.length === 1) return coerce(row[sig.inputs[0]!.name], sig.inputs[0]!);
    return Object.fromEntries(sig.inputs.map((s) => [s.name, coerce(row[s.name], s)]));
  }
  const only = sig.inputs.length === 1 ? sig.inputs[0]! : undefined;
  if (only !== undefined && only.shape.length === 2 && only.shape[1]! > 0) {
    const width = only.shape[1]!;
    if (fields.length !== width) {
      throw new RowError(
        `row has ${fields.length} feature fields besides "${idField}", input "${only.name}" takes ${width} (or give a field named "${only.name}")`,
      );
    }
    return fields.map((f) => coerce(row[f], only));
  }
  throw new RowError(`row lacks the model inputs: ${sig.inputs.map((s) => `"${s.name}"`).join(", ")}`);
}
