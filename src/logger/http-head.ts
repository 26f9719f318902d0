/**
 * HTTP/1.1 message heads for the logger's own proxy: pure parsing and framing decisions (RFC 9112),
 * no I/O. Headers are kept as a flat list [name, value, name, value, ...] with names lower-cased and
 * values as latin1 strings, so writing them back with latin1 reproduces the bytes that came in.
 *
 * Strict where leniency enables request smuggling: a space before the colon, obs-fold, a
 * Content-Length that is not digits or disagrees with itself, Transfer-Encoding together with
 * Content-Length, a transfer coding other than plain "chunked": all are refused, never guessed at.
 */

export type Headers = string[];

export interface RequestHead {
  method: string;
  /** The request-target as sent, query included. */
  target: string;
  /** The target without its query. */
  path: string;
  /** 1 for HTTP/1.1, 0 for HTTP/1.0. */
  minor: number;
  headers: Headers;
  /** -1 when there is no Content-Length; a chunked request has -1 here and chunked true. */
  contentLength: number;
  chunked: boolean;
  /** Whether the connection may carry another request after this one. */
  keepAlive: boolean;
  expectContinue: boolean;
}

export interface ResponseHead {
  status: number;
  minor: number;
  headers: Headers;
  contentLength: number;
  chunked: boolean;
  keepAlive: boolean;
  /** The upstream's Keep-Alive: timeout=N, in ms; undefined when it sent none. */
  keepAliveMs?: number;
}

export type Parsed<T> =
  | { ok: true; head: T; size: number }
  | { ok: false; status: number; message: string }
  /** The head is not complete yet. */
  | undefined;

const CRLFCRLF = Buffer.from("\r\n\r\n");
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const DIGITS = /^\d{1,15}$/;
/** Header names already checked against TOKEN (the same few names arrive on every request). */
const knownNames = new Set<string>();
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: .*)?$/;

/** Where the head that starts at `from` ends (the index after its blank line), or -1 when incomplete. */
export function headEnd(buf: Buffer, from: number, searchFrom = from): number {
  const i = buf.indexOf(CRLFCRLF, Math.max(from, searchFrom - 3));
  return i < 0 ? -1 : i + 4;
}

interface Framing {
  contentLength: number;
  chunked: boolean;
  /** A transfer coding the logger cannot decode, or a framing conflict. */
  error?: string;
  close: boolean;
  keepAlive: boolean;
  expectContinue: boolean;
  expectOther: boolean;
  keepAliveMs?: number;
}

/** Splits the header lines (everything after the first line) into the flat list and reads framing. */
function readHeaders(lines: string[], headers: Headers): Framing | string {
  const f: Framing = {
    contentLength: -1,
    chunked: false,
    close: false,
    keepAlive: false,
    expectContinue: false,
    expectOther: false,
  };
  let te: string | undefined;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line === "") continue;
    const c0 = line.charCodeAt(0);
    if (c0 === 32 || c0 === 9) return "obsolete line folding in headers";
    const colon = line.indexOf(":");
    if (colon <= 0) return `malformed header line "${line.slice(0, 40)}"`;
    const name = line.slice(0, colon).toLowerCase();
    if (!knownNames.has(name)) {
      if (!TOKEN.test(name)) return `malformed header name "${line.slice(0, Math.min(colon, 40))}"`;
      if (knownNames.size < 1000) knownNames.add(name);
    }
    const value = line.slice(colon + 1).trim();
    headers.push(name, value);
    switch (name) {
      case "content-length": {
        if (!DIGITS.test(value)) return `invalid Content-Length "${value.slice(0, 20)}"`;
        const n = Number(value);
        if (f.contentLength >= 0 && f.contentLength !== n) return "conflicting Content-Length headers";
        f.contentLength = n;
        break;
      }
      case "transfer-encoding":
        te = te === undefined ? value : `${te}, ${value}`;
        break;
      case "connection":
        for (const t of value.toLowerCase().split(",")) {
          const token = t.trim();
          if (token === "close") f.close = true;
          else if (token === "keep-alive") f.keepAlive = true;
        }
        break;
      case "expect":
        if (value.toLowerCase() === "100-continue") f.expectContinue = true;
        else f.expectOther = true;
        break;
      case "keep-alive": {
        const m = /timeout=(\d+)/i.exec(value);
        if (m) f.keepAliveMs = Number(m[1]) * 1000;
        break;
      }
    }
  }
  if (te !== undefined) {
    if (f.contentLength >= 0) f.error = "both Transfer-Encoding and Content-Length";
    else if (te.toLowerCase() === "chunked") f.chunked = true;
    else f.error = `unsupported Transfer-Encoding "${te.slice(0, 40)}"`;
  }
  return f;
}

function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 32 || c === 127) return true;
  }
  return false;
}

/** METHOD SP request-target SP HTTP/1.x, split by hand (a regex here costs more than the rest of the head). */
function requestLine(line: string): { method: string; target: string; minor: number } | { status: number } {
  const sp1 = line.indexOf(" ");
  const sp2 = sp1 < 0 ? -1 : line.indexOf(" ", sp1 + 1);
  if (sp1 <= 0 || sp2 < 0 || sp2 === sp1 + 1 || line.indexOf(" ", sp2 + 1) >= 0) return { status: 400 };
  const method = line.slice(0, sp1);
  const target = line.slice(sp1 + 1, sp2);
  const version = line.slice(sp2 + 1);
  if (!TOKEN.test(method) || hasControl(target)) return { status: 400 };
  if (version === "HTTP/1.1") return { method, target, minor: 1 };
  if (version === "HTTP/1.0") return { method, target, minor: 0 };
  return { status: /^HTTP\/\d+\.\d+$/.test(version) ? 505 : 400 };
}

/** Parses a request head that ends at `end` (from headEnd). */
export function parseRequestHead(buf: Buffer, start: number, end: number): Parsed<RequestHead> {
  const lines = buf.toString("latin1", start, end - 4).split("\r\n");
  const rl = requestLine(lines[0] as string);
  if ("status" in rl) {
    return rl.status === 505
      ? { ok: false, status: 505, message: "only HTTP/1.0 and HTTP/1.1 are supported" }
      : { ok: false, status: 400, message: "malformed request line" };
  }
  const headers: Headers = [];
  const f = readHeaders(lines, headers);
  if (typeof f === "string") return { ok: false, status: 400, message: f };
  if (f.error !== undefined) {
    return { ok: false, status: f.error.startsWith("unsupported") ? 501 : 400, message: f.error };
  }
  if (f.expectOther) return { ok: false, status: 417, message: "only Expect: 100-continue is supported" };
  const { method, target, minor } = rl;
  const q = target.indexOf("?");
  return {
    ok: true,
    size: end - start,
    head: {
      method,
      target,
      path: q < 0 ? target : target.slice(0, q),
      minor,
      headers,
      contentLength: f.chunked ? -1 : f.contentLength,
      chunked: f.chunked,
      keepAlive: minor === 1 ? !f.close : f.keepAlive && !f.close,
      expectContinue: f.expectContinue && minor === 1,
    },
  };
}

/** Parses a response head that ends at `end`. */
export function parseResponseHead(buf: Buffer, start: number, end: number): Parsed<ResponseHead> {
  const lines = buf.toString("latin1", start, end - 4).split("\r\n");
  const m = STATUS_LINE.exec(lines[0] as string);
  if (m === null)
    return { ok: false, status: 502, message: `malformed status line "${lines[0]?.slice(0, 40)}"` };
  const headers: Headers = [];
  const f = readHeaders(lines, headers);
  if (typeof f === "string") return { ok: false, status: 502, message: f };
  const minor = Number(m[1]);
  const head: ResponseHead = {
    status: Number(m[2]),
    minor,
    headers,
    contentLength: f.chunked ? -1 : f.contentLength,
    chunked: f.chunked,
    keepAlive: (minor === 1 ? !f.close : f.keepAlive && !f.close) && f.error === undefined,
  };
  if (f.keepAliveMs !== undefined) head.keepAliveMs = f.keepAliveMs;
  // an unknown transfer coding: the body runs to the end of the connection (RFC 9112 6.3)
  if (f.error !== undefined) {
    if (f.error.startsWith("both")) return { ok: false, status: 502, message: f.error };
    head.contentLength = -1;
  }
  return { ok: true, size: end - start, head };
}

/** How a response body is delimited, given the request method (RFC 9112 6.3). */
export function responseBodyKind(
  method: string,
  head: ResponseHead,
): "none" | "length" | "chunked" | "close" {
  if (method === "HEAD" || head.status < 200 || head.status === 204 || head.status === 304) return "none";
  if (head.chunked) return "chunked";
  if (head.contentLength >= 0) return "length";
  return "close";
}

/** The first value of a header, or undefined. */
export function header(headers: Headers, name: string): string | undefined {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) return headers[i + 1];
  return undefined;
}

/** Hop-by-hop headers and the framing the proxy sets itself: never forwarded either way. */
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

/** Writes the end-to-end headers as "name: value\r\n" lines; names listed in Connection are dropped too. */
export function forwardedHeaderLines(headers: Headers): string {
  let out = "";
  let connectionTokens: string[] | undefined;
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] === "connection") {
      connectionTokens = (headers[i + 1] as string)
        .toLowerCase()
        .split(",")
        .map((t) => t.trim());
    }
  }
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i] as string;
    if (HOP_BY_HOP.has(name) || connectionTokens?.includes(name)) continue;
    out += `${name}: ${headers[i + 1] as string}\r\n`;
  }
  return out;
}

const REASONS: Record<number, string> = {
  100: "Continue",
  200: "OK",
  201: "Created",
  202: "Accepted",
  204: "No Content",
  301: "Moved Permanently",
  302: "Found",
  304: "Not Modified",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  417: "Expectation Failed",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  499: "Client Closed Request",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
};

export function statusLine(status: number): string {
  return `HTTP/1.1 ${status} ${REASONS[status] ?? "Unknown"}\r\n`;
}
