import { createServer, type Server, type Socket } from "node:net";
import { ChunkedDecoder } from "./chunked.js";
import { headEnd, parseRequestHead, statusLine, type RequestHead } from "./http-head.js";

/**
 * The logger's HTTP/1.1 server on a raw net socket: reads one request (head and whole body) at a
 * time per connection, hands it to the handler, writes the answer with Content-Length. Pipelined
 * requests wait in the buffer and are answered in order; Connection: close and HTTP/1.0 are honoured.
 * Bounded: head size, body size, bytes buffered behind a request in progress; idle, header and body
 * deadlines close stuck connections.
 */
export interface ServerOptions {
  maxHeadBytes?: number;
  maxBodyBytes?: number;
  /** From the first byte of a request to the end of its head. */
  headersTimeoutMs?: number;
  /** From the first byte of a request to the end of its body. */
  requestTimeoutMs?: number;
  /** An idle keep-alive connection (or one whose client stopped reading) is closed after this. */
  keepAliveTimeoutMs?: number;
}

export type Handler = (head: RequestHead, body: Buffer, conn: Exchange) => void;

/** The connection as the handler sees it: whether the client left, and how to answer. */
export interface Exchange {
  /** True once the client's connection closed (the answer would go nowhere). */
  readonly closed: boolean;
  /**
   * Writes the answer: status line, `headerLines` ("name: value\r\n" each, no framing headers),
   * Content-Length and the body. For HEAD the body is left out and Content-Length is `headLength`.
   */
  respond(status: number, headerLines: string, body: Buffer | string, headLength?: number): void;
}

const CONTINUE = Buffer.from("HTTP/1.1 100 Continue\r\n\r\n", "latin1");
const EMPTY = Buffer.alloc(0);
/** Bytes of further (pipelined) requests read while one is answered, before the socket is paused. */
const MAX_PIPELINED_BYTES = 64 * 1024;

type State = "head" | "body" | "busy" | "closing";

class Conn implements Exchange {
  buf: Buffer | undefined;
  scanFrom = 0;
  state: State = "head";
  head: RequestHead | undefined;
  need = 0;
  parts: Buffer[] = [];
  bytes = 0;
  decoder: ChunkedDecoder | undefined;
  /** When the current deadline passes (ms since epoch), 0 for none; checked by the server's sweep. */
  deadline = 0;
  requestStart = 0;
  closed = false;
  paused = false;

  constructor(
    readonly socket: Socket,
    private readonly server: HttpServer,
  ) {}

  respond(status: number, headerLines: string, body: Buffer | string, headLength?: number): void {
    if (this.state !== "busy" || this.closed) return;
    const req = this.head as RequestHead;
    const keep = req.keepAlive && !this.server.closing;
    const bodyLen = typeof body === "string" ? Buffer.byteLength(body) : body.length;
    const headOnly = req.method === "HEAD";
    let h = statusLine(status) + headerLines;
    h += `content-length: ${headOnly && headLength !== undefined ? headLength : bodyLen}\r\n`;
    if (!keep) h += "connection: close\r\n";
    else if (req.minor === 0) h += "connection: keep-alive\r\n";
    h += "\r\n";
    const s = this.socket;
    if (headOnly || bodyLen === 0) s.write(h, "latin1");
    else if (typeof body === "string") s.write(h + body, "utf8");
    else if (bodyLen <= 16 * 1024) {
      const out = Buffer.allocUnsafe(h.length + bodyLen);
      out.write(h, 0, "latin1");
      body.copy(out, h.length);
      s.write(out);
    } else {
      s.cork();
      s.write(h, "latin1");
      s.write(body);
      s.uncork();
    }
    this.head = undefined;
    if (!keep) {
      this.state = "closing";
      s.end();
      return;
    }
    this.state = "head";
    if (this.buf !== undefined) this.startRequest();
    else this.deadline = Date.now() + this.server.keepAliveTimeoutMs;
    if (this.paused) {
      this.paused = false;
      s.resume();
    }
    // a pipelined request already here: answered next, after this turn so the handler finishes first
    if (this.buf !== undefined) {
      if (s.writableNeedDrain) s.once("drain", () => this.process());
      else setImmediate(() => this.process());
    }
  }

  onData(chunk: Buffer): void {
    if (this.state === "closing") return;
    if (this.buf === undefined) {
      this.buf = chunk;
      if (this.state === "head") this.startRequest();
    } else this.buf = Buffer.concat([this.buf, chunk]);
    if (this.state === "busy") {
      if (this.buf.length > MAX_PIPELINED_BYTES && !this.paused) {
        this.paused = true;
        this.socket.pause();
      }
      return;
    }
    this.process();
  }

  private startRequest(): void {
    this.requestStart = Date.now();
    this.deadline = this.requestStart + this.server.headersTimeoutMs;
  }

  /** Reads as far as the buffer goes; dispatches a request once it is complete. */
  process(): void {
    if (this.closed) return;
    if (this.state === "head" && this.buf !== undefined) {
      const buf = this.buf;
      const end = headEnd(buf, 0, this.scanFrom);
      if (end < 0) {
        if (buf.length > this.server.maxHeadBytes) return this.fail(431, "request head too large");
        this.scanFrom = buf.length;
        return;
      }
      if (end > this.server.maxHeadBytes) return this.fail(431, "request head too large");
      this.scanFrom = 0;
      const r = parseRequestHead(buf, 0, end);
      if (r === undefined || !r.ok) return this.fail(r?.status ?? 400, r?.message ?? "malformed request");
      const head = r.head;
      this.head = head;
      this.buf = end < buf.length ? buf.subarray(end) : undefined;
      if (head.contentLength > this.server.maxBodyBytes) {
        return this.fail(413, `request body over the ${this.server.maxBodyBytes} byte limit`);
      }
      if (head.chunked) {
        this.decoder = new ChunkedDecoder();
        this.state = "body";
      } else if (head.contentLength > 0) {
        this.need = head.contentLength;
        this.state = "body";
      } else return this.dispatch(EMPTY);
      this.deadline = this.requestStart + this.server.requestTimeoutMs;
      if (head.expectContinue && this.buf === undefined) this.socket.write(CONTINUE);
    }
    if (this.state === "body" && this.buf !== undefined) {
      const buf = this.buf;
      if (this.decoder !== undefined) {
        let end: number;
        try {
          end = this.decoder.push(buf);
        } catch (err) {
          return this.fail(400, (err as Error).message);
        }
        if (this.decoder.bytes > this.server.maxBodyBytes) {
          return this.fail(413, `request body over the ${this.server.maxBodyBytes} byte limit`);
        }
        if (end < 0) {
          this.buf = undefined;
          return;
        }
        const body = this.decoder.body();
        this.decoder = undefined;
        this.buf = end < buf.length ? buf.subarray(end) : undefined;
        return this.dispatch(body);
      }
      const need = this.need - this.bytes;
      if (this.bytes === 0 && buf.length >= need) {
        this.buf = buf.length > need ? buf.subarray(need) : undefined;
        return this.dispatch(buf.length > need ? buf.subarray(0, need) : buf);
      }
      const take = Math.min(need, buf.length);
      this.parts.push(take < buf.length ? buf.subarray(0, take) : buf);
      this.bytes += take;
      this.buf = take < buf.length ? buf.subarray(take) : undefined;
      if (this.bytes === this.need) {
        const body = Buffer.concat(this.parts, this.bytes);
        this.parts = [];
        this.bytes = 0;
        this.dispatch(body);
      }
    }
  }

  private dispatch(body: Buffer): void {
    this.state = "busy";
    this.deadline = 0;
    this.server.handler(this.head as RequestHead, body, this);
  }

  /** Answers a request the server refuses itself, and closes: the stream cannot be trusted after it. */
  fail(status: number, message: string): void {
    if (this.state === "closing" || this.closed) return;
    const body = JSON.stringify({ error: `logger: ${message}` });
    this.state = "closing";
    this.socket.end(
      `${statusLine(status)}content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  }

  /** Called by the sweep when the deadline passed. */
  expire(): void {
    this.deadline = 0;
    if (this.state === "head" && this.buf === undefined) this.socket.destroy();
    else if (this.state === "head" || this.state === "body") this.fail(408, "request not received in time");
    else this.socket.destroy();
  }
}

export class HttpServer {
  readonly server: Server;
  readonly maxHeadBytes: number;
  readonly maxBodyBytes: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  closing = false;
  private readonly conns = new Set<Conn>();
  private readonly sweeper: NodeJS.Timeout;
  private onEmpty: (() => void) | undefined;

  constructor(
    readonly handler: Handler,
    opts: ServerOptions = {},
  ) {
    this.maxHeadBytes = opts.maxHeadBytes ?? 16 * 1024;
    this.maxBodyBytes = opts.maxBodyBytes ?? 64 * 1024 * 1024;
    this.headersTimeoutMs = opts.headersTimeoutMs ?? 60_000;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 300_000;
    this.keepAliveTimeoutMs = opts.keepAliveTimeoutMs ?? 65_000;
    this.server = createServer({ noDelay: true }, (socket) => this.accept(socket));
    this.sweeper = setInterval(() => this.sweep(Date.now()), 1_000);
    this.sweeper.unref();
  }

  private accept(socket: Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    const c = new Conn(socket, this);
    c.deadline = Date.now() + this.keepAliveTimeoutMs;
    this.conns.add(c);
    socket.on("data", (chunk: Buffer) => c.onData(chunk));
    socket.on("error", () => undefined);
    socket.on("close", () => {
      c.closed = true;
      this.conns.delete(c);
      if (this.conns.size === 0) this.onEmpty?.();
    });
  }

  private sweep(now: number): void {
    for (const c of this.conns) if (c.deadline !== 0 && now >= c.deadline) c.expire();
  }

  async listen(port: number, host: string): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, host, () => resolve());
    });
    const addr = this.server.address() as { port: number };
    const h = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;
    return `http://${h}:${addr.port}`;
  }

  /** Stops accepting; idle and half-received connections close now, busy ones after their answer. */
  async close(): Promise<void> {
    this.closing = true;
    const stopped = new Promise<void>((r) => this.server.close(() => r()));
    // a request not yet complete is cut (its client sees the connection close and may retry elsewhere)
    for (const c of this.conns) if (c.state !== "busy") c.socket.destroy();
    if (this.conns.size > 0) await new Promise<void>((r) => (this.onEmpty = r));
    clearInterval(this.sweeper);
    await stopped;
  }
}
