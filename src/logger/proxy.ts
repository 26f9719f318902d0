import { randomUUID } from "node:crypto";
import { connect } from "node:net";
import type { Registry } from "prom-client";
import type { Logger } from "../platform/log.js";
import {
  buildFeedbackEvent,
  inferenceEventLine,
  parseFeedback,
  shouldRecord,
  type EventConfig,
} from "../events/build.js";
import type { ErrorType, Variant } from "../events/schema.js";
import { EventLineWriter } from "../events/line.js";
import { forwardedHeaderLines, header, type Headers, type RequestHead } from "./http-head.js";
import { HttpServer, type Exchange } from "./http-server.js";
import type { EventMetrics } from "../events/metrics.js";
import type { LoggerMetrics } from "./metrics.js";
import { errorMessage, inferenceProtocol, type Protocol } from "../events/oip.js";
import type { Spool } from "../events/spool.js";
import { Upstream, UpstreamError } from "./upstream.js";
import { variantOf } from "./variant.js";

export const EVENT_ID_HEADER = "x-modelship-event-id";
export const FALLBACK_HEADER = "x-modelship-fallback";

export interface ProxyOptions {
  upstream: string;
  fallbackUpstream?: string;
  upstreamTimeoutMs: number;
  event: EventConfig;
  spool: Spool;
  registry: Registry;
  metrics: LoggerMetrics & EventMetrics;
  log: Logger;
  random?: () => number;
  /** Request and response bodies above this are refused (413) or failed (502); default 64 MiB. */
  maxBodyBytes?: number;
  /** How the upstream's readiness is checked for /readyz; default GET /v2/health/ready. */
  upstreamReadiness?: UpstreamReadiness;
  /** What the pod serves as now (it may change while running); default event.variant. */
  variant?: { readonly current: Variant };
}

/** An HTTP GET of path answering 2xx/3xx (as the kubelet judges a probe), or a TCP connect. */
export type UpstreamReadiness = { path: string } | "tcp";

/** One upstream attempt's outcome: a response, or a failure the client will see as 502/504. */
export interface Attempt {
  status: number;
  headers: Headers;
  body: Buffer;
  error?: { type: ErrorType; message: string };
  upstreamMs: number;
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

/** The request head sent upstream: same method and target, end-to-end headers, our own framing. */
export function upstreamHead(
  req: RequestHead,
  host: string,
  bodyLength: number,
  fallbackHop: boolean,
): string {
  let h = `${req.method} ${req.target} HTTP/1.1\r\nhost: ${host}\r\n${forwardedHeaderLines(req.headers)}`;
  if (fallbackHop) h += `${FALLBACK_HEADER}: true\r\n`;
  if (bodyLength > 0 || (req.method !== "GET" && req.method !== "HEAD"))
    h += `content-length: ${bodyLength}\r\n`;
  return h + "\r\n";
}

const JSON_HEADERS = "content-type: application/json\r\n";

/** Opens and closes one TCP connection to origin: undefined when it connected, else why not. */
function canConnect(origin: string, timeoutMs: number): Promise<string | undefined> {
  const u = new URL(origin);
  const port = Number(u.port || (u.protocol === "https:" ? 443 : 80));
  return new Promise((resolve) => {
    const socket = connect({ host: u.hostname.replace(/^\[|\]$/g, ""), port });
    const done = (why: string | undefined) => {
      socket.destroy();
      resolve(why);
    };
    socket.setTimeout(timeoutMs, () => done(`could not connect within ${timeoutMs} ms`));
    socket.once("connect", () => done(undefined));
    socket.once("error", (err: Error & { code?: string }) => done(`${err.code ?? err.name}: ${err.message}`));
  });
}

function jsonError(conn: Exchange, status: number, message: string): void {
  conn.respond(status, JSON_HEADERS, JSON.stringify({ error: message }));
}

/** An answered request, as the event is built from it. */
interface Recorded {
  id: string;
  time: number;
  path: string;
  protocol: Protocol;
  headers: Headers;
  variant: Variant;
  body: Buffer;
  attempt: Attempt;
  latencyMs: number;
  fallback: boolean;
}

/**
 * The logger's HTTP server: a reverse proxy for the OIP v2 and KServe v1 routes that records one event
 * per inference request, POST /v2/feedback, and /metrics /healthz /readyz on the same port.
 */
export class LoggerProxy {
  readonly http: HttpServer;
  private readonly upstream: Upstream;
  private readonly fallback: Upstream | undefined;
  private readonly random: () => number;
  private readonly metrics: LoggerMetrics & EventMetrics;
  /** Label children resolved once: the request path should not hash label sets. */
  private readonly hot: {
    spooled: { inc(): void };
    dropped: { inc(): void };
    sampledOut: { inc(): void };
    duration: Record<string, { observe(v: number): void }>;
    inFlight: Record<"infer" | "other", { inc(): void; dec(): void }>;
    requests: Map<string, { inc(): void }>;
  };
  private readonly variant: { readonly current: Variant };

  private readonly lineWriter: EventLineWriter;

  constructor(private readonly opts: ProxyOptions) {
    this.lineWriter = new EventLineWriter(opts.event.features);
    const maxResponseBytes = opts.maxBodyBytes ?? 64 * 1024 * 1024;
    this.upstream = new Upstream(opts.upstream, { maxConnections: 256, maxResponseBytes });
    this.fallback =
      opts.fallbackUpstream !== undefined
        ? new Upstream(opts.fallbackUpstream, { maxConnections: 256, maxResponseBytes })
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
      inFlight: {
        infer: opts.metrics.inFlight.labels("infer"),
        other: opts.metrics.inFlight.labels("other"),
      },
      requests: new Map(),
    };
    this.variant = opts.variant ?? { current: opts.event.variant };
    this.http = new HttpServer(
      (head, body, conn) => {
        this.handle(head, body, conn).catch((err: Error) => {
          opts.log.error({ err, path: head.path }, "Failed to handle request");
          jsonError(conn, 500, "logger: internal error");
        });
      },
      { maxBodyBytes: maxResponseBytes },
    );
  }

  listen(port: number, host: string): Promise<string> {
    return this.http.listen(port, host);
  }

  /** Stops accepting, lets in-flight requests finish (their events are spooled as they answer), closes the upstream sockets. */
  async close(): Promise<void> {
    await this.http.close();
    await Promise.all([this.upstream.close(), this.fallback?.close()]);
  }

  private async handle(req: RequestHead, body: Buffer, conn: Exchange): Promise<void> {
    const path = req.path;
    if (path === "/metrics" || path === "/healthz" || path === "/readyz" || path === "/livez") {
      return this.ops(path, conn);
    }
    if (path === "/v2/feedback") return this.feedback(req, body, conn);
    if (!path.startsWith("/v1/") && !path.startsWith("/v2/") && path !== "/v2" && path !== "/v1") {
      return jsonError(conn, 404, `logger: no route for ${path}; it proxies /v2/... and /v1/...`);
    }
    const protocol = inferenceProtocol(req.method, path);
    const kind = protocol === undefined ? "other" : "infer";
    const inFlight = this.hot.inFlight[kind];
    inFlight.inc();
    try {
      await this.proxy(req, body, conn, protocol, kind);
    } finally {
      inFlight.dec();
    }
  }

  private async proxy(
    req: RequestHead,
    body: Buffer,
    conn: Exchange,
    protocol: Protocol | undefined,
    kind: "infer" | "other",
  ): Promise<void> {
    const path = req.path;
    const started = performance.now();
    const time = Date.now();

    // a request that is itself a fallback (marked by the logger that sent it) never falls back again:
    // stable pods fall back to the stable Service, and one retry per request is the limit
    const isFallbackHop = header(req.headers, FALLBACK_HEADER) !== undefined;
    // (a marked request keeps its marker upstream like any other header; only the logger's own retry adds one)
    let attempt = await this.attempt(this.upstream, req, body, false);
    let fallback = false;
    // a client that hung up is not retried for: nobody would read the answer
    const reason =
      this.fallback !== undefined && !conn.closed && !isFallbackHop ? fallbackReason(attempt) : undefined;
    if (reason !== undefined && this.fallback !== undefined) {
      this.metrics.fallbacks.labels(reason).inc();
      this.opts.log.debug({ reason, path, status: attempt.status }, "Retried request on fallback upstream");
      const first = attempt;
      attempt = await this.attempt(this.fallback, req, body, true);
      attempt.upstreamMs += first.upstreamMs;
      fallback = true;
    }
    // decided before answering, so only recorded requests carry an event id to send feedback for
    const status = conn.closed ? 499 : attempt.status;
    const record = protocol !== undefined && shouldRecord(status, this.opts.event.sampleRate, this.random);
    const eventId = record ? randomUUID() : undefined;
    const recorded = (latencyMs: number): Recorded => ({
      id: eventId!,
      time,
      path,
      protocol: protocol!,
      headers: req.headers,
      variant: variantOf(req.headers, this.variant.current),
      body,
      attempt,
      latencyMs,
      fallback,
    });
    if (conn.closed) {
      // the model still answered; only the client went away (upstream work is not cancelled)
      attempt.status = 499;
      attempt.error = { type: "client_aborted", message: "client closed the connection before the response" };
    }
    // A write-through spool takes the event before the answer leaves: once a client holds an event id,
    // a kill -9 of the logger cannot lose that event. A buffered spool takes it after, off the latency.
    const durable = this.opts.spool.isWriteThrough && eventId !== undefined;
    if (durable) this.record(recorded(performance.now() - started));
    if (!conn.closed) {
      let lines = forwardedHeaderLines(attempt.headers);
      if (eventId !== undefined) lines += `${EVENT_ID_HEADER}: ${eventId}\r\n`;
      if (fallback) lines += `${FALLBACK_HEADER}: true\r\n`;
      const cl = req.method === "HEAD" ? header(attempt.headers, "content-length") : undefined;
      conn.respond(attempt.status, lines, attempt.body, cl !== undefined ? Number(cl) : undefined);
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
    // after the response went out: the event never adds latency to this answer
    if (!durable) this.record(recorded(totalMs));
  }

  /** Builds the event and appends it to the spool (see Spool: write-through or buffered). */
  private record(r: Recorded): void {
    const a = r.attempt;
    const line = inferenceEventLine(
      {
        id: r.id,
        time: new Date(r.time),
        path: r.path,
        protocol: r.protocol,
        requestHeaders: r.headers,
        requestBody: r.body,
        status: a.status,
        responseBody:
          a.error?.type === "timeout" || a.error?.type === "upstream_unreachable" ? undefined : a.body,
        ...(a.error !== undefined ? { error: a.error } : {}),
        latencyMs: r.latencyMs,
        fallback: r.fallback,
        variant: r.variant,
      },
      this.opts.event,
      this.lineWriter,
    );
    const ok = this.opts.spool.append(line);
    (ok ? this.hot.spooled : this.hot.dropped).inc();
  }

  private countRequest(kind: string, status: number): void {
    const key = `${kind} ${status}`;
    let c = this.hot.requests.get(key);
    if (c === undefined) this.hot.requests.set(key, (c = this.metrics.requests.labels(kind, String(status))));
    c.inc();
  }

  private async attempt(
    upstream: Upstream,
    req: RequestHead,
    body: Buffer,
    fallbackHop: boolean,
  ): Promise<Attempt> {
    const started = performance.now();
    const timeout = this.opts.upstreamTimeoutMs;
    try {
      const head = upstreamHead(req, upstream.host, body.length, fallbackHop);
      const res = await upstream.request(req.method, head, body, timeout);
      const a: Attempt = {
        status: res.status,
        headers: res.headers,
        body: res.body,
        upstreamMs: performance.now() - started,
      };
      const err = classifyStatus(res.status, res.body);
      if (err !== undefined) a.error = err;
      return a;
    } catch (err) {
      const upstreamMs = performance.now() - started;
      const e = err as Error;
      const timedOut = e instanceof UpstreamError && e.kind === "timeout";
      const msg = timedOut ? e.message : `upstream unreachable: ${e.message}`;
      return {
        status: timedOut ? 504 : 502,
        headers: ["content-type", "application/json"],
        body: Buffer.from(JSON.stringify({ error: msg })),
        upstreamMs,
        error: { type: timedOut ? "timeout" : "upstream_unreachable", message: msg },
      };
    }
  }

  private feedback(req: RequestHead, body: Buffer, conn: Exchange): void {
    if (req.method !== "POST")
      return jsonError(conn, 405, 'POST /v2/feedback {"id": "<event id>", "groundTruth": ...}');
    let input;
    try {
      input = parseFeedback(JSON.parse(body.toString("utf8")));
    } catch (err) {
      this.metrics.requests.inc({ kind: "feedback", code: "400" });
      return jsonError(
        conn,
        400,
        err instanceof SyntaxError ? "feedback body is not JSON" : (err as Error).message,
      );
    }
    const event = buildFeedbackEvent(randomUUID(), new Date(), input, this.opts.event);
    if (!this.opts.spool.append(JSON.stringify(event))) {
      this.metrics.events.inc({ result: "dropped" });
      this.metrics.requests.inc({ kind: "feedback", code: "503" });
      return jsonError(conn, 503, "logger: spool full, feedback not recorded; retry later");
    }
    this.metrics.events.inc({ result: "spooled" });
    this.metrics.requests.inc({ kind: "feedback", code: "202" });
    conn.respond(202, JSON_HEADERS, JSON.stringify({ id: event.id, eventId: input.eventId }));
  }

  /** Why the model server is not ready, or undefined when it is. */
  private async upstreamNotReady(): Promise<string | undefined> {
    const how = this.opts.upstreamReadiness ?? { path: "/v2/health/ready" };
    if (how === "tcp") return canConnect(this.opts.upstream, 2_000);
    try {
      const head = `GET ${how.path} HTTP/1.1\r\nhost: ${this.upstream.host}\r\n\r\n`;
      const r = await this.upstream.request("GET", head, undefined, 2_000);
      return r.status >= 200 && r.status < 400 ? undefined : `${how.path} answered ${r.status}`;
    } catch (err) {
      return (err as Error).message;
    }
  }

  private async ops(path: string, conn: Exchange): Promise<void> {
    if (path === "/metrics") {
      const s = this.opts.spool;
      this.metrics.spoolBytes.set(s.bytes);
      this.metrics.spoolSegments.set(s.segments);
      this.metrics.spoolAge.set(s.oldestAgeSeconds(Date.now()));
      const text = await this.opts.registry.metrics();
      conn.respond(200, `content-type: ${this.opts.registry.contentType}\r\n`, text);
      return;
    }
    // fail open: a broken spool drops events (counted, logged) but never takes the pod out of service,
    // so neither probe looks at it; /readyz follows the model server behind the logger
    const failures: string[] = [];
    if (path === "/readyz") {
      const why = await this.upstreamNotReady();
      if (why !== undefined) failures.push(`upstream: ${why}`);
    }
    const text = failures.length === 0 ? "ok\n" : failures.join("\n") + "\n";
    conn.respond(failures.length === 0 ? 200 : 503, "content-type: text/plain\r\n", text);
  }
}
