import { randomUUID } from "node:crypto";
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
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
import type { EventMetrics } from "../events/metrics.js";
import { errorMessage, inferenceProtocol, type Protocol } from "../events/oip.js";
import type { Spool } from "../events/spool.js";
import { BodyBudget, BodyBuffer, type Refusal } from "./body.js";
import { forwardRequestHeaders, forwardResponseHeaders } from "../platform/http-headers.js";
import type { LoggerMetrics } from "./metrics.js";
import type { Reclaimer } from "./reclaim.js";
import { createLoggerServer, DEFAULT_SERVER_LIMITS, type LoggerServer, type ServerLimits } from "./server.js";
import { Upstream, UpstreamError } from "./upstream.js";
import { EVENT_ID_HEADER, FALLBACK_HEADER, SHADOW_HEADER } from "../events/constants.js";
import { variantOf } from "../events/variant.js";
import type { Mirror } from "../runtime/mirror.js";

export { EVENT_ID_HEADER, FALLBACK_HEADER } from "../events/constants.js";

/** Defaults sized for the logger's 256Mi container: one 64 MiB body, 64 MiB of bodies in flight. */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_INFLIGHT_BODY_BYTES = 64 * 1024 * 1024;
/** A 64 MiB body in this many pieces averages 670 bytes each; a million one-byte chunks stop here. */
export const DEFAULT_MAX_BODY_CHUNKS = 100_000;
/** Connections to one model server at most. */
const UPSTREAM_CONNECTIONS = 256;
/** A refused request's remaining body is read and discarded for this long, so its client sees the answer. */
const DISCARD_MS = 5_000;

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
  /** One request body above this is refused (413), one response body fails (502). */
  maxBodyBytes?: number;
  /** All request and response bodies held at once; a request that does not fit gets 503. */
  maxInflightBodyBytes?: number;
  /** A body that arrives in more pieces than this is refused (413). */
  maxBodyChunks?: number;
  server?: Partial<ServerLimits>;
  /** Gives large bodies' memory back once idle (see Reclaimer); none when absent. */
  reclaimer?: Reclaimer;
  /** How the upstream's readiness is checked for /readyz; default GET /v2/health/ready. */
  upstreamReadiness?: UpstreamReadiness;
  /** What the pod serves as now (it may change while running); default event.variant. */
  variant?: { readonly current: Variant };
  /** Copy a share of inference requests to the shadow target after each answer (runtime/mirror.ts). */
  mirror?: Mirror;
}

/** An HTTP GET of path answering 2xx/3xx (as the kubelet judges a probe), or a TCP connect. */
export type UpstreamReadiness = { path: string } | "tcp";

/** One upstream attempt's outcome: a response, or a failure the client will see as 502/503/504. */
export interface Attempt {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  error?: { type: ErrorType; message: string };
  /** The logger had no room for the answer: the client gets 503, nothing is recorded. */
  overloaded?: boolean;
  upstreamMs: number;
  release(): void;
}

/** Whether the local model's answer should be retried on the fallback upstream, and why. */
export function fallbackReason(a: Attempt): string | undefined {
  if (a.overloaded === true) return undefined;
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

const NO_BODY = new Set([204, 304]);

/** Writes a whole answer: status, headers (flat list), Content-Length and body. */
function send(res: ServerResponse, status: number, headers: string[], body: Buffer | string): void {
  if (NO_BODY.has(status)) {
    res.writeHead(status, headers).end();
    return;
  }
  const length = typeof body === "string" ? Buffer.byteLength(body) : body.length;
  headers.push("content-length", String(length));
  res.writeHead(status, headers).end(body);
}

function sendJson(res: ServerResponse, status: number, value: unknown, extra: string[] = []): void {
  send(res, status, ["content-type", "application/json", ...extra], JSON.stringify(value));
}

function jsonError(res: ServerResponse, status: number, message: string, extra: string[] = []): void {
  sendJson(res, status, { error: message }, extra);
}

/** Runs fn once the answer is flushed or the connection is gone. */
function whenClosed(res: ServerResponse, fn: () => void): void {
  if (res.closed) fn();
  else res.once("close", fn);
}

/** An answered request, as the event is built from it. */
interface Recorded {
  id: string;
  time: number;
  path: string;
  protocol: Protocol;
  headers: IncomingHttpHeaders;
  variant: Variant;
  body: Buffer;
  attempt: Attempt;
  latencyMs: number;
  fallback: boolean;
}

/**
 * The logger's HTTP server: a reverse proxy for the OIP v2 and KServe v1 routes that records one event
 * per inference request, POST /v2/feedback, and /metrics /healthz /readyz /livez on the same port.
 */
export class LoggerProxy {
  readonly http: LoggerServer;
  readonly budget: BodyBudget;
  private readonly upstream: Upstream;
  private readonly fallback: Upstream | undefined;
  private readonly random: () => number;
  private readonly metrics: LoggerMetrics & EventMetrics;
  private readonly limits: { maxBytes: number; maxChunks: number };
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
    this.limits = {
      maxBytes: opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
      maxChunks: opts.maxBodyChunks ?? DEFAULT_MAX_BODY_CHUNKS,
    };
    const reclaimer = opts.reclaimer;
    this.budget = new BodyBudget(
      opts.maxInflightBodyBytes ?? DEFAULT_MAX_INFLIGHT_BODY_BYTES,
      reclaimer !== undefined ? () => reclaimer.schedule() : undefined,
    );
    const upstream = (origin: string) =>
      new Upstream(origin, {
        connections: UPSTREAM_CONNECTIONS,
        timeoutMs: opts.upstreamTimeoutMs,
        budget: this.budget,
        limits: this.limits,
      });
    this.upstream = upstream(opts.upstream);
    this.fallback = opts.fallbackUpstream !== undefined ? upstream(opts.fallbackUpstream) : undefined;
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
    this.http = createLoggerServer(
      { ...DEFAULT_SERVER_LIMITS, ...opts.server },
      (req, res) => this.onRequest(req, res),
      (code) => this.metrics.refused.inc({ reason: refusedParse(code) }),
      (req, res) => this.mayContinue(req, res),
    );
  }

  listen(port: number, host: string): Promise<string> {
    return this.http.listen(port, host);
  }

  /** Stops accepting, lets in-flight requests finish (their events are spooled as they answer), closes the upstream pools. */
  async close(): Promise<void> {
    await this.http.close();
    this.opts.reclaimer?.stop();
    await Promise.all([this.upstream.close(), this.fallback?.close()]);
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const target = req.url ?? "/";
    const q = target.indexOf("?");
    const path = q < 0 ? target : target.slice(0, q);
    const fail = (err: Error) => {
      this.opts.log.error({ err, path }, "Failed to handle request");
      if (!res.headersSent) jsonError(res, 500, "logger: internal error");
      else res.destroy();
    };
    if (path === "/metrics" || path === "/healthz" || path === "/readyz" || path === "/livez") {
      this.ops(path, res).catch(fail);
      return;
    }
    const isFeedback = path === "/v2/feedback";
    if (
      !isFeedback &&
      !path.startsWith("/v1/") &&
      !path.startsWith("/v2/") &&
      path !== "/v2" &&
      path !== "/v1"
    ) {
      return jsonError(
        res,
        404,
        `logger: no route for ${path.slice(0, 200)}; it proxies /v2/... and /v1/...`,
      );
    }
    // the body is re-framed with Content-Length upstream: a coding other than chunked would be lost
    const te = req.headers["transfer-encoding"];
    if (te !== undefined && te.toLowerCase() !== "chunked") {
      return jsonError(res, 501, `logger: unsupported Transfer-Encoding "${te.slice(0, 40)}"`, [
        "connection",
        "close",
      ]);
    }
    void this.readBody(req, res).then((body) => {
      if (body === undefined) return;
      const done = isFeedback
        ? this.feedback(req, res, body.body())
        : this.proxy(req, res, path, body.body());
      done.catch(fail).finally(() => body.release());
    });
  }

  /** An Expect: 100-continue request whose body would be refused is answered before it sends it. */
  private mayContinue(req: IncomingMessage, res: ServerResponse): boolean {
    const cl = Number(req.headers["content-length"] ?? 0);
    let refusal: Refusal | undefined;
    if (cl > this.limits.maxBytes) {
      refusal = {
        status: 413,
        reason: "body_too_large",
        message: `body over the ${this.limits.maxBytes} byte limit`,
      };
    } else if (this.budget.inUse + cl > this.budget.limit) {
      refusal = {
        status: 503,
        reason: "body_budget",
        message: "bodies in flight fill the budget; retry shortly",
      };
    }
    if (refusal === undefined) return true;
    this.refuse(req, res, refusal, false);
    return false;
  }

  /** Reads the whole request body within the limits; undefined when it was refused (and answered) or the client left. */
  private readBody(req: IncomingMessage, res: ServerResponse): Promise<BodyBuffer | undefined> {
    const body = new BodyBuffer(this.budget, this.limits);
    const cl = req.headers["content-length"];
    const refused = body.expect(cl === undefined ? undefined : Number(cl));
    if (refused !== undefined) {
      this.refuse(req, res, refused, true);
      return Promise.resolve(undefined);
    }
    return new Promise((resolve) => {
      const finish = (ok: boolean) => {
        req.off("data", onData);
        req.off("end", onEnd);
        req.off("close", onClose);
        if (ok) return resolve(body);
        body.release();
        resolve(undefined);
      };
      const onData = (chunk: Buffer) => {
        const r = body.push(chunk);
        if (r === undefined) return;
        finish(false);
        this.refuse(req, res, r, true);
      };
      const onEnd = () => finish(true);
      // the client left before its body was complete
      const onClose = () => finish(false);
      req.on("data", onData);
      req.on("end", onEnd);
      req.on("close", onClose);
    });
  }

  /**
   * Answers a refused body: 413, or 503 with Retry-After. The rest of the body is read and discarded
   * for a while, so the client sees the answer; a client sending a flood of tiny chunks is cut at once.
   */
  private refuse(req: IncomingMessage, res: ServerResponse, r: Refusal, reading: boolean): void {
    this.metrics.refused.inc({ reason: r.reason });
    const extra = r.status === 503 ? ["retry-after", "1"] : [];
    if (r.reason === "body_chunks") {
      // stop reading the flood; close once the answer is out (a reset sent at once could overtake it)
      req.socket.pause();
      res.once("finish", () => {
        req.socket.end();
        setTimeout(() => req.socket.destroy(), 1_000).unref();
      });
    } else if (reading) {
      req.resume();
      const t = setTimeout(() => {
        if (!req.complete) req.socket.destroy();
      }, DISCARD_MS);
      t.unref();
      req.once("end", () => clearTimeout(t));
    }
    jsonError(res, r.status, `logger: ${r.message}`, extra);
  }

  private async proxy(req: IncomingMessage, res: ServerResponse, path: string, body: Buffer): Promise<void> {
    const protocol = inferenceProtocol(req.method ?? "GET", path);
    const kind = protocol === undefined ? "other" : "infer";
    const inFlight = this.hot.inFlight[kind];
    inFlight.inc();
    try {
      await this.exchange(req, res, path, body, protocol, kind);
    } finally {
      inFlight.dec();
    }
  }

  private async exchange(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    body: Buffer,
    protocol: Protocol | undefined,
    kind: "infer" | "other",
  ): Promise<void> {
    const started = performance.now();
    const time = Date.now();
    const headers = forwardRequestHeaders(req.rawHeaders, req.headers.connection);

    // a request that is itself a fallback (marked by the logger that sent it) never falls back again:
    // stable pods fall back to the stable Service, and one retry per request is the limit
    // a shadow copy is never retried either: its answer goes nowhere
    const isFallbackHop =
      req.headers[FALLBACK_HEADER] !== undefined || req.headers[SHADOW_HEADER] !== undefined;
    let attempt = await this.attempt(this.upstream, req, headers, body, false);
    let fallback = false;
    // a client that hung up is not retried for: nobody would read the answer
    const reason =
      this.fallback !== undefined && !res.closed && !isFallbackHop ? fallbackReason(attempt) : undefined;
    if (reason !== undefined && this.fallback !== undefined) {
      this.metrics.fallbacks.labels(reason).inc();
      this.opts.log.debug({ reason, path, status: attempt.status }, "Retried request on fallback upstream");
      const first = attempt;
      first.release();
      attempt = await this.attempt(this.fallback, req, headers, body, true);
      attempt.upstreamMs += first.upstreamMs;
      fallback = true;
    }
    whenClosed(res, attempt.release);
    if (attempt.overloaded === true) {
      this.countRequest(kind, 503);
      if (!res.closed)
        jsonError(res, 503, attempt.error?.message ?? "logger: overloaded", ["retry-after", "1"]);
      return;
    }
    const gone = res.closed;
    if (gone) {
      // the model still answered; only the client went away (upstream work is not cancelled)
      attempt.status = 499;
      attempt.error = { type: "client_aborted", message: "client closed the connection before the response" };
    }
    const record =
      protocol !== undefined && shouldRecord(attempt.status, this.opts.event.sampleRate, this.random);
    const recorded = (id: string, latencyMs: number): Recorded => ({
      id,
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
    // Write-through and fsync spools take the event before the answer leaves, and the answer carries its
    // id only when the spool took it: once a client holds an id, a kill -9 of the logger (fsync: a crash
    // of the node) cannot lose that event. A buffered spool takes it after the answer, off the latency.
    const spool = this.opts.spool;
    let eventId: string | undefined;
    if (record && spool.isWriteThrough) {
      const id = randomUUID();
      let ok = this.record(recorded(id, performance.now() - started));
      if (ok && spool.mode === "fsync") ok = await spool.commit();
      if (ok) eventId = id;
    } else if (record) {
      const id = randomUUID();
      // the buffered event is written after the answer; its id is promised only while there is room
      if (spool.hasRoom(body.length + attempt.body.length + 4096)) eventId = id;
    }
    if (!res.closed) {
      const out = forwardResponseHeaders(attempt.headers);
      if (eventId !== undefined) out.push(EVENT_ID_HEADER, eventId);
      if (fallback) out.push(FALLBACK_HEADER, "true");
      if (req.method === "HEAD") {
        const cl = attempt.headers["content-length"];
        if (cl !== undefined) out.push("content-length", String(cl));
        res.writeHead(attempt.status, out).end();
      } else send(res, attempt.status, out, attempt.body);
    }
    if (kind === "infer") this.opts.mirror?.copy(req, body, eventId);
    const totalMs = performance.now() - started;
    this.countRequest(kind, attempt.status);
    this.hot.duration[kind]?.observe(totalMs / 1000);
    this.metrics.overhead.observe(Math.max(0, totalMs - attempt.upstreamMs) / 1000);
    if (protocol === undefined) return;
    if (!record) {
      this.hot.sampledOut.inc();
      return;
    }
    // buffered: after the response went out, so the event never adds latency to this answer
    if (!spool.isWriteThrough && eventId !== undefined) this.record(recorded(eventId, totalMs));
  }

  /** Builds the event and appends it to the spool; false when the spool did not take it (counted). */
  private record(r: Recorded): boolean {
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
    return ok;
  }

  private countRequest(kind: string, status: number): void {
    const key = `${kind} ${status}`;
    let c = this.hot.requests.get(key);
    if (c === undefined) this.hot.requests.set(key, (c = this.metrics.requests.labels(kind, String(status))));
    c.inc();
  }

  private async attempt(
    upstream: Upstream,
    req: IncomingMessage,
    headers: string[],
    body: Buffer,
    fallbackHop: boolean,
  ): Promise<Attempt> {
    const started = performance.now();
    const method = req.method ?? "GET";
    try {
      const res = await upstream.request({
        method,
        path: req.url ?? "/",
        headers: fallbackHop ? [...headers, FALLBACK_HEADER, "true"] : headers,
        body: body.length === 0 && (method === "GET" || method === "HEAD") ? null : body,
      });
      const a: Attempt = {
        status: res.status,
        headers: res.headers,
        body: res.body,
        upstreamMs: performance.now() - started,
        release: () => res.release(),
      };
      const err = classifyStatus(res.status, res.body);
      if (err !== undefined) a.error = err;
      return a;
    } catch (err) {
      const upstreamMs = performance.now() - started;
      const e = err as Error;
      const kind = e instanceof UpstreamError ? e.kind : "unreachable";
      if (kind === "overloaded") {
        this.metrics.refused.inc({ reason: "body_budget" });
        return failed(503, "upstream_unreachable", e.message, upstreamMs, true);
      }
      if (kind === "timeout") return failed(504, "timeout", e.message, upstreamMs);
      return failed(502, "upstream_unreachable", `upstream unreachable: ${e.message}`, upstreamMs);
    }
  }

  private async feedback(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    if (req.method !== "POST")
      return jsonError(res, 405, 'POST /v2/feedback {"id": "<event id>", "groundTruth": ...}');
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
    const spool = this.opts.spool;
    let ok = spool.append(JSON.stringify(event));
    if (ok && spool.mode === "fsync") ok = await spool.commit();
    if (!ok) {
      this.metrics.events.inc({ result: "dropped" });
      this.metrics.requests.inc({ kind: "feedback", code: "503" });
      return jsonError(res, 503, "logger: spool full, feedback not recorded; retry later", [
        "retry-after",
        "1",
      ]);
    }
    this.metrics.events.inc({ result: "spooled" });
    this.metrics.requests.inc({ kind: "feedback", code: "202" });
    sendJson(res, 202, { id: event.id, eventId: input.eventId });
  }

  /** Why the model server is not ready, or undefined when it is. */
  private async upstreamNotReady(): Promise<string | undefined> {
    const how = this.opts.upstreamReadiness ?? { path: "/v2/health/ready" };
    if (how === "tcp") return canConnect(this.opts.upstream, 2_000);
    try {
      const r = await this.upstream.request(
        { method: "GET", path: how.path, headers: [], body: null },
        2_000,
      );
      r.release();
      return r.status >= 200 && r.status < 400 ? undefined : `${how.path} answered ${r.status}`;
    } catch (err) {
      return (err as Error).message;
    }
  }

  private async ops(path: string, res: ServerResponse): Promise<void> {
    if (path === "/metrics") {
      const s = this.opts.spool;
      this.metrics.spoolBytes.set(s.bytes);
      this.metrics.spoolSegments.set(s.segments);
      this.metrics.spoolAge.set(s.oldestAgeSeconds(Date.now()));
      this.metrics.bodyBytes.set(this.budget.inUse);
      const text = await this.opts.registry.metrics();
      send(res, 200, ["content-type", this.opts.registry.contentType], text);
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
    send(res, failures.length === 0 ? 200 : 503, ["content-type", "text/plain"], text);
  }
}

function failed(
  status: number,
  type: ErrorType,
  message: string,
  upstreamMs: number,
  overloaded = false,
): Attempt {
  const a: Attempt = {
    status,
    headers: { "content-type": "application/json" },
    body: Buffer.from(JSON.stringify({ error: message })),
    upstreamMs,
    error: { type, message },
    release: () => undefined,
  };
  if (overloaded) a.overloaded = true;
  return a;
}

/** The refusal reason for a request llhttp or the server's deadlines refused. */
function refusedParse(code: string): string {
  if (code === "HPE_HEADER_OVERFLOW") return "header_too_large";
  if (code === "ERR_HTTP_REQUEST_TIMEOUT") return "request_timeout";
  return "malformed_request";
}
