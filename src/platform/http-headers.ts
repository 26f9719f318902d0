import type { IncomingHttpHeaders } from "node:http";

/**
 * Hop-by-hop headers (RFC 9110 7.6.1) and the framing each hop sets itself: never forwarded either way.
 * Names listed in a Connection header are hop-by-hop too.
 */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
  "content-length",
  "expect",
]);

/** Names a Connection header lists besides its options; undefined for none (the usual keep-alive or close). */
function connectionTokens(value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "string" && /^\s*(keep-alive|close)\s*$/i.test(value)) return undefined;
  const tokens = new Set<string>();
  for (const v of Array.isArray(value) ? value : [value])
    for (const t of v.split(",")) tokens.add(t.trim().toLowerCase());
  return tokens;
}

/**
 * The request's end-to-end headers as the flat [name, value, ...] list undici takes, from node's
 * rawHeaders (names as the client wrote them, duplicates kept).
 */
export function forwardRequestHeaders(raw: string[], connection: string | undefined): string[] {
  const drop = connectionTokens(connection);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || drop?.has(lower)) continue;
    out.push(name, raw[i + 1] as string);
  }
  return out;
}

/** The upstream answer's end-to-end headers as a flat [name, value, ...] list for node's writeHead. */
export function forwardResponseHeaders(headers: IncomingHttpHeaders): string[] {
  const drop = connectionTokens(headers.connection);
  const out: string[] = [];
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || drop?.has(name)) continue;
    const v = headers[name];
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const one of v) out.push(name, one);
    else out.push(name, v);
  }
  return out;
}
