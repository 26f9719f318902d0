import { FEATURE_TYPES, VARIANTS } from "./event-constants.js";
import type { FeatureSchema, FeatureSpec, Variant } from "./event.js";

/** Parses HOST:PORT, :PORT or PORT (host defaults to defaultHost); throws naming the flag. */
export function parseListen(
  value: string,
  flag: string,
  defaultHost = "0.0.0.0",
): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(value) ?? /^()()(\d+)$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--${flag} must be HOST:PORT, :PORT or PORT (e.g. 0.0.0.0:8080), got "${value}"`);
  }
  const host = m[1] ?? m[2] ?? "";
  return { host: host === "" ? defaultHost : host, port };
}

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

export function parseUpstream(value: string, flag: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new Error(`--${flag} must be a URL like http://127.0.0.1:8081, got "${value}"`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new Error(`--${flag} must be an http:// or https:// URL, got "${value}"`);
  }
  return u.origin;
}

/** Parses --upstream-readiness: an HTTP path the model server answers 2xx/3xx on when ready, or tcp. */
export function parseUpstreamReadiness(value: string): { path: string } | "tcp" {
  if (value === "tcp") return "tcp";
  if (value.startsWith("/") && !/\s/.test(value)) return { path: value };
  throw new Error(`--upstream-readiness must be a path such as /v2/health/ready, or tcp, got "${value}"`);
}
