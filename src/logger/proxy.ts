import { listen } from "../platform/listen.js";
import { randomUUID } from "node:crypto";
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { Registry } from "prom-client";
import { Pool } from "./undici-pool.js";
import type { Logger } from "../platform/log.js";
import {
  buildFeedbackEvent,
  buildInferenceEvent,
  parseFeedback,
  shouldRecord,
  type EventConfig,
} from "./build.js";
import type { ErrorType } from "./event.js";
import type { LoggerMetrics } from "./metrics.js";
import { errorMessage, inferenceProtocol } from "./oip.js";
import type { Spool } from "./spool.js";

export const EVENT_ID_HEADER = "x-modelship-event-id";
export const FALLBACK_HEADER = "x-modelship-fallback";

export interface ProxyOptions {
  upstream: string;
  fallbackUpstream?: string;
  upstreamTimeoutMs: number;
  event: EventConfig;
  spool: Spool;
  registry: Registry;
  metrics: LoggerMetrics;
  log: Logger;
  random?: () => number;
}

/** One upstream attempt's outcome: a response, or a failure the client will see as 502/504. */
export interface Attempt {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  error?: { type: ErrorType; message: string };
  upstreamMs: number;
}

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
]);

function forwardHeaders(h: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
  return out;
}

/** Whether the local model's answer should be retried on the fallback upstream, and why. */
export function fallbackReason(a: Attempt): string | undefined {
  if (a.error?.type === "timeout") return "timeout";
  if (a.error?.type === "upstream_unreachable") return "unreachable";
  if (a.status >= 500) return "5xx";
  return undefined;
}

/** The error an upstream status stands for: 4xx is the client's fault, 5xx the model's. */
export function classifyStatus(
  status: number,
  body: Buffer,
): { type: ErrorType; message: string } | undefined {
  if (status >= 400 && status < 500)
    return { type: "bad_request", message: errorMessage(body, `HTTP ${status}`) };
  if (status >= 500) return { type: "model_error", message: errorMessage(body, `HTTP ${status}`) };
  return undefined;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function jsonError(res: ServerResponse, status: number, message: string): void {
  const body = JSON.stringify({ error: message });
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

/**
 * The logger's HTTP server: a reverse proxy for the OIP v2 and KServe v1 routes that records one event
 * per inference request, POST /v2/feedback, and /metrics /healthz /readyz on the same port.
 */
export class LoggerProxy {
  readonly server: Server;
  private readonly pool: Pool;
  private readonly fallbackPool: Pool | undefined;
  private readonly random: () => number;
  private readonly metrics: LoggerMetrics;
  /** Label children resolved once: the request path should not hash label sets. */
  private readonly hot: {
    spooled: { inc(): void };
    dropped: { inc(): void };
    sampledOut: { inc(): void };
    duration: Record<string, { observe(v: number): void }>;
    requests: Map<string, { inc(): void }>;
  };

  constructor(private readonly opts: ProxyOptions) {
    this.pool = new Pool(opts.upstream, { connections: 256, keepAliveTimeout: 30_000 });
    this.fallbackPool =
      opts.fallbackUpstream !== undefined
        ? new Pool(opts.fallbackUpstream, { connections: 256, keepAliveTimeout: 30_000 })
        : undefined;
    this.random = opts.random ?? Math.random;
    this.metrics = opts.metrics;
    this.hot = {
      spooled: opts.metrics.events.labels("spooled"),
      dropped: opts.metrics.events.labels("dropped"),
      sampledOut: opts.metrics.events.labels("sampled_out"),
      duration: {
        infer: opts.metrics.duration.labels("infer"),
        other: opts.metrics.duration.labels("other"),
      },
      requests: new Map(),
    };
    this.server = createServer({ keepAlive: true }, (req, res) => {
      this.handle(req, res).catch((err: Error) => {
        opts.log.error({ err, path: req.url }, "Failed to handle request");
        if (!res.headersSent) jsonError(res, 500, "logger: internal error");
        else res.destroy();
      });
    });
    this.server.keepAliveTimeout = 65_000;
  }

  async listen(port: number, host: string): Promise<string> {
    return listen(this.server, port, host);
  }

  /** Stops accepting, lets in-flight requests finish, closes the upstream pools. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
    });
    await Promise.all([this.pool.close(), this.fallbackPool?.close()]);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q < 0 ? url : url.slice(0, q);
    const method = req.method ?? "GET";
    if (path === "/metrics" || path === "/healthz" || path === "/readyz" || path === "/livez") {
      return this.ops(path, res);
    }
    if (path === "/v2/feedback") return this.feedback(req, res);
    if (!path.startsWith("/v1/") && !path.startsWith("/v2/") && path !== "/v2" && path !== "/v1") {
      return jsonError(res, 404, `logger: no route for ${path}; it proxies /v2/... and /v1/...`);
    }
    const protocol = inferenceProtocol(method, path);
    const kind = protocol === undefined ? "other" : "infer";
    const started = performance.now();
    const time = new Date();
    const body = await readBody(req);

    let attempt = await this.attempt(this.pool, method, url, req.headers, body);
    let fallback = false;
    // a client that hung up is not retried for: nobody would read the answer
    // a request that is itself a fallback (marked by the logger that sent it) never falls back again:
    // stable pods fall back to the stable Service, and one retry per request is the limit
    const isFallbackHop = req.headers[FALLBACK_HEADER] !== undefined;
    const reason =
      this.fallbackPool !== undefined && !res.destroyed && !isFallbackHop
        ? fallbackReason(attempt)
        : undefined;
    if (reason !== undefined && this.fallbackPool !== undefined) {
      this.metrics.fallbacks.labels(reason).inc();
      this.opts.log.debug({ reason, path, status: attempt.status }, "Retried request on fallback upstream");
      const first = attempt;
      attempt = await this.attempt(
        this.fallbackPool,
        method,
        url,
        { ...req.headers, [FALLBACK_HEADER]: "true" },
        body,
      );
      attempt.upstreamMs += first.upstreamMs;
      fallback = true;
    }
    // decided before answering, so only recorded requests carry an event id to send feedback for
    const status = res.destroyed ? 499 : attempt.status;
    const record = protocol !== undefined && shouldRecord(status, this.opts.event.sampleRate, this.random);
    const eventId = record ? randomUUID() : undefined;
    if (res.destroyed) {
      // the model still answered; only the client went away (upstream work is not cancelled)
      attempt.status = 499;
      attempt.error = { type: "client_aborted", message: "client closed the connection before the response" };
    } else {
      const headers: Record<string, string | string[]> = {};
      for (const k in attempt.headers) {
        const v = attempt.headers[k];
        if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
      }
      headers["content-length"] = String(attempt.body.length);
      if (eventId !== undefined) headers[EVENT_ID_HEADER] = eventId;
      if (fallback) headers[FALLBACK_HEADER] = "true";
      res.writeHead(attempt.status, headers);
      res.end(attempt.body);
    }
    const totalMs = performance.now() - started;
    this.countRequest(kind, attempt.status);
    this.hot.duration[kind]?.observe(totalMs / 1000);
    this.metrics.overhead.observe(Math.max(0, totalMs - attempt.upstreamMs) / 1000);
    if (protocol === undefined) return;
    if (eventId === undefined) {
      this.hot.sampledOut.inc();
      return;
    }

    // after the response went out: the event never adds latency, and the spool append never waits
    const event = buildInferenceEvent(
      {
        id: eventId,
        time,
        path,
        protocol,
        requestHeaders: req.headers,
        requestBody: body,
        status: attempt.status,
        responseBody:
          attempt.error?.type === "timeout" || attempt.error?.type === "upstream_unreachable"
            ? undefined
            : attempt.body,
        ...(attempt.error !== undefined ? { error: attempt.error } : {}),
        latencyMs: totalMs,
        fallback,
      },
      this.opts.event,
    );
    const ok = this.opts.spool.append(JSON.stringify(event));
    (ok ? this.hot.spooled : this.hot.dropped).inc();
  }

  private countRequest(kind: string, status: number): void {
    const key = `${kind} ${status}`;
    let c = this.hot.requests.get(key);
    if (c === undefined) this.hot.requests.set(key, (c = this.metrics.requests.labels(kind, String(status))));
    c.inc();
  }

  private async attempt(
    pool: Pool,
    method: string,
    url: string,
    headers: IncomingHttpHeaders,
    body: Buffer,
  ): Promise<Attempt> {
    const started = performance.now();
    const timeout = this.opts.upstreamTimeoutMs;
    try {
      const res = await pool.request({
        method: method as "GET",
        path: url,
        headers: forwardHeaders(headers),
        body: method === "GET" || method === "HEAD" ? null : body,
        // waiting for the answer and for each body chunk are both bounded by the timeout
        headersTimeout: timeout,
        bodyTimeout: timeout,
      });
      const buf = Buffer.from(await res.body.arrayBuffer());
      const a: Attempt = {
        status: res.statusCode,
        headers: res.headers as IncomingHttpHeaders,
        body: buf,
        upstreamMs: performance.now() - started,
      };
      const err = classifyStatus(res.statusCode, buf);
      if (err !== undefined) a.error = err;
      return a;
    } catch (err) {
      const upstreamMs = performance.now() - started;
      const e = err as Error & { code?: string; cause?: { code?: string } };
      const code = e.code ?? e.cause?.code ?? e.name;
      if (code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT") {
        const msg = `upstream did not answer within ${timeout} ms`;
        return {
          status: 504,
          headers: { "content-type": "application/json" },
          body: Buffer.from(JSON.stringify({ error: msg })),
          upstreamMs,
          error: { type: "timeout", message: msg },
        };
      }
      const msg = `upstream unreachable: ${code}: ${e.message}`;
      return {
        status: 502,
        headers: { "content-type": "application/json" },
        body: Buffer.from(JSON.stringify({ error: msg })),
        upstreamMs,
        error: { type: "upstream_unreachable", message: msg },
      };
    }
  }

  private async feedback(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== "POST")
      return jsonError(res, 405, 'POST /v2/feedback {"id": "<event id>", "groundTruth": ...}');
    const body = await readBody(req);
    let input;
    try {
      input = parseFeedback(JSON.parse(body.toString("utf8")));
    } catch (err) {
      this.metrics.requests.inc({ kind: "feedback", code: "400" });
      return jsonError(
        res,
        400,
        err instanceof SyntaxError ? "feedback body is not JSON" : (err as Error).message,
      );
    }
    const event = buildFeedbackEvent(randomUUID(), new Date(), input, this.opts.event);
    if (!this.opts.spool.append(JSON.stringify(event))) {
      this.metrics.events.inc({ result: "dropped" });
      this.metrics.requests.inc({ kind: "feedback", code: "503" });
      return jsonError(res, 503, "logger: spool full, feedback not recorded; retry later");
    }
    this.metrics.events.inc({ result: "spooled" });
    this.metrics.requests.inc({ kind: "feedback", code: "202" });
    const out = JSON.stringify({ id: event.id, eventId: input.eventId });
    res.writeHead(202, { "content-type": "application/json", "content-length": Buffer.byteLength(out) });
    res.end(out);
  }

  private async ops(path: string, res: ServerResponse): Promise<void> {
    if (path === "/metrics") {
      const s = this.opts.spool;
      this.metrics.spoolBytes.set(s.bytes);
      this.metrics.spoolSegments.set(s.segments);
      this.metrics.spoolAge.set(s.oldestAgeSeconds(Date.now()));
      const text = await this.opts.registry.metrics();
      res.writeHead(200, { "content-type": this.opts.registry.contentType });
      res.end(text);
      return;
    }
    // fail open: a broken spool drops events (counted, logged) but never takes the pod out of service,
    // so neither probe looks at it; /readyz follows the model server behind the logger
    const failures: string[] = [];
    if (path === "/readyz") {
      try {
        const r = await this.pool.request({
          method: "GET",
          path: "/v2/health/ready",
          headersTimeout: 2_000,
          bodyTimeout: 2_000,
        });
        await r.body.dump();
        if (r.statusCode !== 200) failures.push(`upstream: /v2/health/ready answered ${r.statusCode}`);
      } catch (err) {
        failures.push(`upstream: ${(err as Error).message}`);
      }
    }
    const text = failures.length === 0 ? "ok\n" : failures.join("\n") + "\n";
    res.writeHead(failures.length === 0 ? 200 : 503, { "content-type": "text/plain" });
    res.end(text);
  }
}
