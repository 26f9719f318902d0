/**
 * The part of a live object one field manager owns, read from its `metadata.managedFields` (FieldsV1).
 * Server-side apply records there exactly which fields each manager set; projecting the live object onto
 * ours keeps what the controller compares against its next render and drops the rest (defaults, status,
 * other managers' fields), which is most of a cached Deployment.
 *
 * FieldsV1, in short: `f:<name>` is a field of a map or struct, `k:<json>` the element of an associative list
 * whose key fields have those values, `v:<json>` the element of a set with that value, `i:<n>` the element at
 * index n, and `.` the element itself. An entry with no children but `.` is owned whole.
 */
export type FieldSet = { [key: string]: FieldSet };

interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  subresource?: string;
  fieldsType?: string;
  fieldsV1?: FieldSet;
}

/** The union of the field sets `manager` applied (server-side apply) to the object itself, not a subresource. */
export function appliedFieldSet(managedFields: unknown, manager: string): FieldSet | undefined {
  if (!Array.isArray(managedFields)) return undefined;
  const ours = (managedFields as ManagedFieldsEntry[]).filter(
    (e) =>
      e.manager === manager &&
      e.operation === "Apply" &&
      !e.subresource &&
      e.fieldsType === "FieldsV1" &&
      e.fieldsV1 !== undefined,
  );
  if (ours.length === 0) return undefined;
  return ours.map((e) => e.fieldsV1!).reduce(mergeFieldSets);
}

function mergeFieldSets(a: FieldSet, b: FieldSet): FieldSet {
  const out: FieldSet = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = k in out ? mergeFieldSets(out[k]!, v) : v;
  return out;
}

const isWhole = (fields: FieldSet) => Object.keys(fields).every((k) => k === ".");

/** `value` reduced to the fields in `fields`; list elements keep their order. */
export function projectFields(value: unknown, fields: FieldSet): unknown {
  if (Array.isArray(value)) return projectList(value, fields);
  if (value === null || typeof value !== "object") return value;
  const obj = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [key, sub] of Object.entries(fields)) {
    if (!key.startsWith("f:")) continue;
    const name = key.slice(2);
    if (!(name in obj)) continue;
    out[name] = isWhole(sub) ? obj[name] : projectFields(obj[name], sub);
  }
  return out;
}

type ElementMatcher = { sub: FieldSet; matches: (el: unknown, index: number) => boolean };

function projectList(list: unknown[], fields: FieldSet): unknown[] {
  const matchers: ElementMatcher[] = [];
  for (const [key, sub] of Object.entries(fields)) {
    const matches = elementMatcher(key);
    if (matches) matchers.push({ sub, matches });
  }
  const out: unknown[] = [];
  list.forEach((el, i) => {
    const m = matchers.find((x) => x.matches(el, i));
    if (m) out.push(isWhole(m.sub) ? el : projectFields(el, m.sub));
  });
  return out;
}

function elementMatcher(key: string): ElementMatcher["matches"] | undefined {
  const tag = key.slice(0, 2);
  const rest = key.slice(2);
  try {
    if (tag === "i:") {
      const n = Number(rest);
      return (_el, i) => i === n;
    }
    if (tag === "v:") {
      const want: unknown = JSON.parse(rest);
      return (el) => sameJSON(el, want);
    }
    if (tag === "k:") {
      const keys = Object.entries(JSON.parse(rest) as Record<string, unknown>);
      return (el) =>
        el !== null &&
        typeof el === "object" &&
        keys.every(([k, v]) => sameJSON((el as Record<string, unknown>)[k], v));
    }
  } catch {
    return undefined; // a key this reader does not understand owns nothing it can project
  }
  return undefined;
}

function sameJSON(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return false;
  return JSON.stringify(a) === JSON.stringify(b);
}
