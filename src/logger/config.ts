import { FeatureSchema, Variant } from "./event.js";

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
  const r = FeatureSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new Error(
      `--features: ${issue?.path.join(".") || "value"}: ${issue?.message}; expected a JSON array of ` +
        `{"name": string, "type": "numeric"|"categorical"|"boolean"|"string", "categories"?: string[]}`,
    );
  }
  const names = new Set<string>();
  for (const f of r.data) {
    if (names.has(f.name)) throw new Error(`--features: feature "${f.name}" is declared twice`);
    names.add(f.name);
  }
  return r.data;
}

export function parseVariant(value: string): Variant {
  const r = Variant.safeParse(value);
  if (!r.success) throw new Error(`--variant must be one of ${Variant.options.join(", ")}, got "${value}"`);
  return r.data;
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
