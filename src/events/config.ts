// Command-line values every writer of events shares (serve and the logger), checked with named flags.
import { FEATURE_TYPES, VARIANTS } from "./constants.js";
import type { FeatureSchema, FeatureSpec, Variant } from "./schema.js";

/** Parses --features: a JSON array of {name, type: numeric|categorical|boolean|string, categories?}. */
export function parseFeatures(value: string | undefined): FeatureSchema {
  if (value === undefined || value.trim() === "") return [];
  let raw: unknown;
  try {
    raw = JSON.parse(value);
  } catch {
    throw new Error(`--features must be JSON, e.g. '[{"name":"amount","type":"numeric"}]'`);
  }
  // checked by hand, not with the zod FeatureSchema: the sidecar does not load zod (memory)
  const expected =
    'expected a JSON array of {"name": string, "type": "numeric"|"categorical"|"boolean"|"string", "categories"?: string[]}';
  if (!Array.isArray(raw)) throw new Error(`--features: value: not an array; ${expected}`);
  const specs: FeatureSpec[] = raw.map((f: unknown, i) => {
    const o = (typeof f === "object" && f !== null ? f : {}) as Record<string, unknown>;
    if (typeof o.name !== "string" || o.name === "")
      throw new Error(`--features: ${i}.name: must be a non-empty string; ${expected}`);
    if (!(FEATURE_TYPES as readonly unknown[]).includes(o.type)) {
      throw new Error(`--features: ${i}.type: must be one of ${FEATURE_TYPES.join(", ")}; ${expected}`);
    }
    const spec: FeatureSpec = { name: o.name, type: o.type as FeatureSpec["type"] };
    if (o.categories !== undefined) {
      if (!Array.isArray(o.categories) || !o.categories.every((c) => typeof c === "string")) {
        throw new Error(`--features: ${i}.categories: must be an array of strings; ${expected}`);
      }
      spec.categories = o.categories as string[];
    }
    return spec;
  });
  const names = new Set<string>();
  for (const f of specs) {
    if (names.has(f.name)) throw new Error(`--features: feature "${f.name}" is declared twice`);
    names.add(f.name);
  }
  return specs;
}

export function parseVariant(value: string): Variant {
  if (!(VARIANTS as readonly string[]).includes(value)) {
    throw new Error(`--variant must be one of ${VARIANTS.join(", ")}, got "${value}"`);
  }
  return value as Variant;
}

export function parseSampleRate(value: number): number {
  if (!(value >= 0 && value <= 1)) throw new Error(`--sample-rate must be between 0 and 1, got ${value}`);
  return value;
}
