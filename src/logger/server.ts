import {
  createServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
} from "node:http";
import type { Duplex } from "node:stream";

/**
 * The logger's HTTP/1.1 server: node:http, so llhttp does the framing. llhttp in its strict mode
 * (insecureHTTPParser stays off) refuses what request smuggling needs: a bare CR or LF, NUL or other
 * control bytes in a header, obs-fold, a space before the colon, Content-Length with Transfer-Encoding,
 * conflicting Content-Lengths. Limits close slow or stuck clients.
 */
export interface ServerLimits {
  /** Request line plus headers (431 beyond). */
  maxHeaderBytes: number;
  /** From the first byte of a request to the end of its head (408 beyond). */
  headersTimeoutMs: number;
  /** From the first byte of a request to the end of its body (408 beyond). */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
}

export const DEFAULT_SERVER_LIMITS: ServerLimits = {
  maxHeaderBytes: 16 * 1024,
  headersTimeoutMs: 60_000,
  requestTimeoutMs: 300_000,
  // above the idle timeouts of the load balancers in front (60 s is common), so they close first
  keepAliveTimeoutMs: 65_000,
};

export interface LoggerServer {
  server: Server;
  listen(port: number, host: string): Promise<string>;
  /** Stops accepting; requests in flight are answered, then every connection is closed. */
  close(): Promise<void>;
}

/**
 * A node:http server for `onRequest`. `onParseError` is told about each request llhttp refused (it is
 * answered 400, 408 or 431 and its connection closed); `onContinue` decides whether an
 * `Expect: 100-continue` request may send its body (false: it already answered).
 */
export function createLoggerServer(
  limits: ServerLimits,
  onRequest: RequestListener,
  onParseError: (code: string) => void,
  onContinue: (req: IncomingMessage, res: ServerResponse) => boolean,
): LoggerServer {
  let inFlight = 0;
  let drained: (() => void) | undefined;
  const handle: RequestListener = (req, res) => {
    inFlight++;
    res.once("close", () => {
      if (--inFlight === 0) drained?.();
    });
    onRequest(req, res);
  };
  const server = createServer(
    {
      insecureHTTPParser: false,
      maxHeaderSize: limits.maxHeaderBytes,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // how often the request and headers deadlines are checked (node's default is 30 s)
      connectionsCheckingInterval: 1_000,
      noDelay: true,
    },
    handle,
  );
  server.on("checkContinue", (req: IncomingMessage, res: ServerResponse) => {
    if (!onContinue(req, res)) return;
    res.writeContinue();
    handle(req, res);
  });
  server.on("clientError", (err: Error & { code?: string }, socket: Duplex) => {
    const code = err.code ?? "unknown";
    // an answer already under way on this connection (pipelining) cannot be followed by another
    const answering = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage
      ?.headersSent;
    if (code === "ECONNRESET" || !socket.writable || answering === true) {
      socket.destroy();
      return;
    }
    onParseError(code);
    const status = code === "HPE_HEADER_OVERFLOW" ? 431 : code === "ERR_HTTP_REQUEST_TIMEOUT" ? 408 : 400;
    const body = JSON.stringify({ error: `logger: ${status === 400 ? "malformed request" : err.message}` });
    socket.end(
      `HTTP/1.1 ${status} ${REASONS[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  });
  return {
    server,
    async listen(port, host) {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => resolve());
      });
      const addr = server.address() as { port: number };
      const h = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;
      return `http://${h}:${addr.port}`;
    },
    async close() {
      const stopped = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      if (inFlight > 0) await new Promise<void>((r) => (drained = r));
      server.closeAllConnections();
      await stopped;
    },
  };
}

const REASONS: Record<number, string> = {
  400: "Bad Request",
  408: "Request Timeout",
  431: "Request Header Fields Too Large",
};
