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
