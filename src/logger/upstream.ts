import { connect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { ChunkedDecoder } from "./chunked.js";
import {
  headEnd,
  parseResponseHead,
  responseBodyKind,
  type Headers,
  type ResponseHead,
} from "./http-head.js";

/**
 * The logger's HTTP/1.1 client to the model server: a small pool of persistent keep-alive sockets, one
 * request at a time per socket, the answer buffered whole (the proxy decides on fallback before it
 * answers, and records the body). Replaces undici on the hot path: a request is one socket write of
 * head + body and one parse of the answer's head.
 */
export interface UpstreamResponse {
  status: number;
  headers: Headers;
  body: Buffer;
}

export type UpstreamFailure = "timeout" | "unreachable";

export class UpstreamError extends Error {
  override name = "UpstreamError";
  constructor(
    readonly kind: UpstreamFailure,
    message: string,
  ) {
    super(message);
  }
}

export interface UpstreamOptions {
  maxConnections?: number;
  /** Idle sockets older than this are closed (and never reused). */
  idleTimeoutMs?: number;
  /** A larger answer fails as unreachable (and the socket is closed): memory stays bounded. */
  maxResponseBytes?: number;
}

interface Pending {
  method: string;
  /** Request head and body, already serialized. */
  data: Buffer[];
  timeoutMs: number;
  resolve: (r: UpstreamResponse) => void;
  reject: (e: UpstreamError) => void;
  timer: NodeJS.Timeout | undefined;
  /** Already re-sent once after a reused socket turned out closed. */
  resent: boolean;
  conn: Conn | undefined;
}

const MAX_HEAD_BYTES = 64 * 1024;

class Conn {
  buf: Buffer | undefined;
  scanFrom = 0;
  head: ResponseHead | undefined;
  kind: ReturnType<typeof responseBodyKind> = "none";
  parts: Buffer[] = [];
  bytes = 0;
  decoder: ChunkedDecoder | undefined;
  pending: Pending | undefined;
  /** Requests answered on this socket; a socket that served one may have been closed by the server since. */
  served = 0;
  gotBytes = false;
  idleSince = 0;
  /** Close idle before this (the server's Keep-Alive: timeout hint, less a margin). */
  idleLimitMs: number;
  error: Error | undefined;
  constructor(
    readonly socket: Socket,
    idleLimitMs: number,
  ) {
    this.idleLimitMs = idleLimitMs;
  }
}

export class Upstream {
  readonly host: string;
  private readonly port: number;
  private readonly tls: boolean;
  private readonly idle: Conn[] = [];
  private readonly queue: Pending[] = [];
  private open = 0;
  private closed = false;
  private readonly maxConnections: number;
  private readonly idleTimeoutMs: number;
  private readonly maxResponseBytes: number;
  private readonly sweeper: NodeJS.Timeout;

  constructor(origin: string, opts: UpstreamOptions = {}) {
    const u = new URL(origin);
    this.tls = u.protocol === "https:";
    this.host = u.host;
    this.port = Number(u.port || (this.tls ? 443 : 80));
    this.maxConnections = opts.maxConnections ?? 256;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 30_000;
    this.maxResponseBytes = opts.maxResponseBytes ?? 64 * 1024 * 1024;
    this.sweeper = setInterval(() => this.sweep(Date.now()), 1_000);
    this.sweeper.unref();
  }

  /**
   * Sends one request. `head` is the request head up to and including its blank line (the caller
   * writes Host, from `host`, and the framing); rejects with an UpstreamError: timeout or unreachable.
   */
  request(
    method: string,
    head: string,
    body: Buffer | undefined,
    timeoutMs: number,
  ): Promise<UpstreamResponse> {
    return new Promise((resolve, reject) => {
      const headBuf = Buffer.from(head, "latin1");
      let data: Buffer[];
      if (body === undefined || body.length === 0) data = [headBuf];
      else if (body.length <= 16 * 1024)
        data = [Buffer.concat([headBuf, body], headBuf.length + body.length)];
      else data = [headBuf, body];
      const p: Pending = {
        method,
        data,
        timeoutMs,
        resolve,
        reject,
        timer: undefined,
        resent: false,
        conn: undefined,
      };
      if (this.closed) return reject(new UpstreamError("unreachable", "logger is shutting down"));
      p.timer = setTimeout(() => this.timeout(p), timeoutMs);
      this.dispatch(p);
    });
  }

  /** Closes idle sockets and refuses new requests; requests in flight finish. */
  close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    for (const c of this.idle.splice(0)) c.socket.destroy();
    for (const p of this.queue.splice(0)) this.fail(p, "unreachable", "logger is shutting down");
    return Promise.resolve();
  }

  private dispatch(p: Pending): void {
    const now = Date.now();
    while (this.idle.length > 0) {
      const c = this.idle.pop() as Conn;
      if (now - c.idleSince >= c.idleLimitMs || c.socket.destroyed) {
        c.socket.destroy();
        continue;
      }
      return this.assign(c, p);
    }
    if (this.open < this.maxConnections) return this.assign(this.connect(), p);
    this.queue.push(p);
  }

  private connect(): Conn {
    const socket = this.tls
      ? tlsConnect({
          host: this.host.replace(/:\d+$/, ""),
          port: this.port,
          servername: this.host.replace(/:\d+$/, ""),
        })
      : connect({ host: this.host.replace(/:\d+$/, "").replace(/^\[|\]$/g, ""), port: this.port });
    socket.setNoDelay(true);
    this.open++;
    const c = new Conn(socket, this.idleTimeoutMs);
    socket.on("data", (chunk: Buffer) => this.onData(c, chunk));
    socket.on("error", (err) => (c.error = err));
    socket.on("close", () => this.onClose(c));
    return c;
  }

  private assign(c: Conn, p: Pending): void {
    c.pending = p;
    p.conn = c;
    c.buf = undefined;
    c.scanFrom = 0;
    c.head = undefined;
    c.parts = [];
    c.bytes = 0;
    c.decoder = undefined;
    c.gotBytes = false;
    if (p.data.length === 1) c.socket.write(p.data[0] as Buffer);
    else {
      c.socket.cork();
      for (const d of p.data) c.socket.write(d);
      c.socket.uncork();
    }
  }

  private onData(c: Conn, chunk: Buffer): void {
    const p = c.pending;
    if (p === undefined) {
      // bytes nobody asked for: the socket is out of step with its requests
      c.socket.destroy();
      return;
    }
    c.gotBytes = true;
    p.timer?.refresh();
    try {
      this.parse(c, p, chunk);
    } catch (err) {
      this.broken(c, p, (err as Error).message);
    }
  }

  private parse(c: Conn, p: Pending, chunk: Buffer): void {
    if (c.head === undefined) {
      const buf = c.buf === undefined ? chunk : Buffer.concat([c.buf, chunk]);
      let start = 0;
      for (;;) {
        const end = headEnd(buf, start, c.scanFrom);
        if (end < 0) {
          if (buf.length - start > MAX_HEAD_BYTES) throw new Error("response head too large");
          c.buf = buf.subarray(start);
          c.scanFrom = c.buf.length;
          return;
        }
        const r = parseResponseHead(buf, start, end);
        if (r === undefined || !r.ok) throw new Error(r?.message ?? "malformed response head");
        start = end;
        c.scanFrom = 0;
        // 1xx interim answers (100 Continue, 103 Early Hints) precede the real one
        if (r.head.status >= 100 && r.head.status < 200) continue;
        c.head = r.head;
        c.buf = undefined;
        c.kind = responseBodyKind(p.method, r.head);
        if (r.head.keepAliveMs !== undefined) {
          c.idleLimitMs = Math.min(this.idleTimeoutMs, Math.max(0, r.head.keepAliveMs - 1_000));
        }
        if (c.kind === "length" && r.head.contentLength > this.maxResponseBytes) {
          throw new Error(
            `response of ${r.head.contentLength} bytes is over the ${this.maxResponseBytes} byte limit`,
          );
        }
        chunk = buf.subarray(end);
        break;
      }
      if (c.kind === "none") return this.done(c, p, Buffer.alloc(0), chunk);
      if (chunk.length === 0) {
        if (c.kind === "length" && c.head.contentLength === 0) this.done(c, p, Buffer.alloc(0), chunk);
        return;
      }
    }
    const head = c.head;
    switch (c.kind) {
      case "length": {
        const need = head.contentLength - c.bytes;
        if (c.bytes === 0 && chunk.length >= need) {
          return this.done(c, p, chunk.subarray(0, need), chunk.subarray(need));
        }
        const take = Math.min(need, chunk.length);
        c.parts.push(chunk.subarray(0, take));
        c.bytes += take;
        if (c.bytes === head.contentLength) {
          return this.done(c, p, Buffer.concat(c.parts, c.bytes), chunk.subarray(take));
        }
        return;
      }
      case "chunked": {
        c.decoder ??= new ChunkedDecoder();
        const end = c.decoder.push(chunk);
        if (c.decoder.bytes > this.maxResponseBytes) throw new Error("chunked response over the size limit");
        if (end >= 0) this.done(c, p, c.decoder.body(), chunk.subarray(end));
        return;
      }
      case "close":
        c.parts.push(chunk);
        c.bytes += chunk.length;
        if (c.bytes > this.maxResponseBytes) throw new Error("response over the size limit");
        return;
    }
  }

  private done(c: Conn, p: Pending, body: Buffer, rest: Buffer): void {
    const head = c.head as ResponseHead;
    c.pending = undefined;
    c.served++;
    if (p.timer !== undefined) clearTimeout(p.timer);
    p.resolve({ status: head.status, headers: head.headers, body });
    // bytes past the end of the answer mean the server and the logger disagree on framing: never reuse
    if (!head.keepAlive || rest.length > 0 || this.closed) {
      c.socket.destroy();
      return;
    }
    this.release(c);
  }

  private release(c: Conn): void {
    const next = this.queue.shift();
    if (next !== undefined) return this.assign(c, next);
    c.idleSince = Date.now();
    this.idle.push(c);
  }

  private onClose(c: Conn): void {
    this.open--;
    const i = this.idle.indexOf(c);
    if (i >= 0) this.idle.splice(i, 1);
    const p = c.pending;
    c.pending = undefined;
    if (p !== undefined) {
      if (c.head !== undefined && c.kind === "close" && c.error === undefined) {
        // a body delimited by the end of the connection has just ended (a reset would be an error)
        const head = c.head;
        if (p.timer !== undefined) clearTimeout(p.timer);
        p.resolve({ status: head.status, headers: head.headers, body: Buffer.concat(c.parts, c.bytes) });
      } else if (!c.gotBytes && c.served > 0 && !p.resent && !this.closed) {
        // a reused keep-alive socket the server had closed: nothing was answered, send it once more
        p.resent = true;
        this.dispatchFresh(p);
      } else {
        const why = c.error as (Error & { code?: string }) | undefined;
        const msg =
          why !== undefined
            ? `${why.code ?? why.name}: ${why.message}`
            : c.gotBytes
              ? "upstream closed the connection in the middle of the response"
              : "upstream closed the connection without answering";
        this.fail(p, "unreachable", msg);
      }
    }
    // a slot opened: start a queued request on a new socket
    if (this.queue.length > 0 && this.open < this.maxConnections && !this.closed) {
      this.assign(this.connect(), this.queue.shift() as Pending);
    }
  }

  private dispatchFresh(p: Pending): void {
    if (this.open < this.maxConnections) this.assign(this.connect(), p);
    else this.queue.unshift(p);
  }

  private broken(c: Conn, p: Pending, message: string): void {
    c.pending = undefined;
    c.socket.destroy();
    this.fail(p, "unreachable", `upstream sent an invalid HTTP response: ${message}`);
  }

  private timeout(p: Pending): void {
    p.timer = undefined;
    const q = this.queue.indexOf(p);
    if (q >= 0) this.queue.splice(q, 1);
    const c = p.conn;
    if (c !== undefined && c.pending === p) {
      c.pending = undefined;
      const connecting = c.socket.connecting;
      c.socket.destroy();
      if (connecting) return this.fail(p, "unreachable", `could not connect within ${p.timeoutMs} ms`);
    }
    this.fail(p, "timeout", `upstream did not answer within ${p.timeoutMs} ms`);
  }

  private fail(p: Pending, kind: UpstreamFailure, message: string): void {
    if (p.timer !== undefined) clearTimeout(p.timer);
    p.timer = undefined;
    p.reject(new UpstreamError(kind, message));
  }

  private sweep(now: number): void {
    for (let i = this.idle.length - 1; i >= 0; i--) {
      const c = this.idle[i] as Conn;
      if (now - c.idleSince >= c.idleLimitMs) {
        this.idle.splice(i, 1);
        c.socket.destroy();
      }
    }
  }
}
