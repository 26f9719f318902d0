import { listen } from "../platform/listen.js";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { Logger } from "../platform/log.js";
import { FEEDBACK_EVENT_TYPE, INFERENCE_EVENT_TYPE } from "../events/constants.js";
import type { AuthResult } from "./auth.js";
import { readBatch, type BodyLimits } from "./body.js";
import { MAX_REPORT_BYTES, type ReportStore } from "./reports.js";
import type { EventStore } from "./store.js";
import { ReviewError, type ReviewQueue } from "./review-queue.js";
import { REVIEW_STATES, type ReviewState } from "./review-decide.js";

export interface CollectorLimits extends BodyLimits {
  /** API requests handled at once (answers, streaming exports included); 503 beyond. */
  maxConcurrentRequests: number;
}

export const defaultLimits: CollectorLimits = {
  maxRequestBytes: 16 * 1024 * 1024,
  maxEventBytes: 4 * 1024 * 1024,
  maxConcurrentRequests: 8,
};

/** How long a refused request's unread body is drained (discarded) so the client can read the answer. */
const DISCARD_MS = 2_000;

/** Routes that answer without a token: probes and the Prometheus scrape. */
const OPEN_PATHS = new Set(["/metrics", "/healthz", "/readyz", "/livez"]);

function createCollectorMetrics(registry: Registry, store: EventStore) {
  const registers = [registry];
  return {
    events: new Counter({
      name: "modelship_collector_events_total",
      help: "Events received, by result: stored, duplicate, invalid, oversized or expired.",
      labelNames: ["result"] as const,
      registers,
    }),
    batches: new Counter({
      name: "modelship_collector_batches_total",
      help: "Batches received, by HTTP status code answered.",
      labelNames: ["code"] as const,
      registers,
    }),
    rejected: new Counter({
      name: "modelship_collector_requests_rejected_total",
      help: "API requests refused before they were handled, by reason: unauthorized, too_large or busy.",
      labelNames: ["reason"] as const,
      registers,
    }),
    inFlight: new Gauge({
      name: "modelship_collector_requests_in_flight",
      help: "API requests being handled (streaming exports included).",
      registers,
    }),
    writeDuration: new Histogram({
      name: "modelship_collector_batch_duration_seconds",
      help: "Time to read, validate, de-duplicate and durably write one batch.",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers,
    }),
    exported: new Counter({
      name: "modelship_collector_exported_events_total",
      help: "Events streamed by GET /v1/events.",
      registers,
    }),
    bytes: new Gauge({
      name: "modelship_collector_written_bytes",
      help: "Bytes of NDJSON written since start (before compression).",
      registers,
      collect() {
        this.set(store.bytesWritten);
      },
    }),
  };
}

/** Reads a time query parameter (RFC 3339); throws naming it. */
export function parseTime(value: string | null, name: string, fallback: Date): Date {
  if (value === null || value === "") return fallback;
  const t = Date.parse(value);
  if (Number.isNaN(t))
    throw new Error(`${name} must be an RFC 3339 time like 2026-01-01T00:00:00Z, got "${value}"`);
  return new Date(t);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/**
 * Answers a request whose body may not be read yet. The rest of the body is discarded as it arrives
 * (never kept), so a client still sending can finish and read the answer; one that is still sending
 * after DISCARD_MS is disconnected.
 */
function refuse(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  if (!req.complete) {
    const timer = setTimeout(() => req.socket.destroy(), DISCARD_MS);
    timer.unref();
    req.once("end", () => clearTimeout(timer));
    req.once("close", () => clearTimeout(timer));
    req.resume();
  }
  json(res, status, body);
}

/** The declared body length, or undefined when the body is chunked (or there is none). */
function declaredLength(req: IncomingMessage): number | undefined {
  const v = req.headers["content-length"];
  return v === undefined ? undefined : Number(v);
}

/** Reads a body of at most limit bytes; undefined (with the rest unread) when it is larger. */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req.iterator({ destroyOnReturn: false })) {
    size += (c as Buffer).length;
    if (size > limit) return undefined;
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

/** A review request's JSON object body (at most 64 KiB); throws a ReviewError naming what is wrong. */
async function readReviewBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const raw = await readBody(req, 65_536);
  if (raw === undefined) throw new ReviewError(400, "review request body larger than 65536 bytes");
  let v: unknown;
  try {
    v = raw.length === 0 ? {} : JSON.parse(raw.toString("utf8"));
  } catch (err) {
    throw new ReviewError(400, `review request body is not JSON: ${(err as Error).message}`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v))
    throw new ReviewError(400, 'review request body must be a JSON object, e.g. {"reviewer": "ana"}');
  return v as Record<string, unknown>;
}

/** An integer parameter in [min, max], the fallback when absent; throws a ReviewError naming it. */
function boundedInt(v: unknown, name: string, fallback: number, min: number, max: number): number {
  if (v === undefined || v === null || v === "") return fallback;
  const n = typeof v === "string" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max)
    throw new ReviewError(400, `${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return n;
}

export interface CollectorServerOptions {
  store: EventStore;
  registry: Registry;
  log: Logger;
  reports?: ReportStore;
  /** The human review queue (GET /v1/review/{model}, claim, label); absent: those routes answer 404. */
  review?: ReviewQueue;
  /** Checks a request's Authorization header; absent: the API is open (tests, local use). */
  auth?: { check(header: string | undefined): AuthResult };
  limits?: CollectorLimits;
}

/**
 * POST /v1/events (batch; 200 only once durable), GET /v1/events?model=&since=&until=[&type=] (NDJSON
 * stream, the drift job's input), GET /v1/models, drift reports (POST /v1/reports, GET
 * /v1/reports/{model}[/{id}|/latest]), the review queue (/v1/review/{model}, docs/review.md): all behind the bearer token when one is configured, and at most
 * maxConcurrentRequests at once. /metrics /healthz /readyz answer without a token.
 */
export class CollectorServer {
  readonly server: Server;
  private readonly metrics: ReturnType<typeof createCollectorMetrics>;
  private readonly store: EventStore;
  private readonly registry: Registry;
  private readonly log: Logger;
  private readonly reports: ReportStore | undefined;
  private readonly review: ReviewQueue | undefined;
  private readonly auth: CollectorServerOptions["auth"];
  private readonly limits: CollectorLimits;
  private healthy: string | null = null;
  private inFlight = 0;

  constructor(o: CollectorServerOptions) {
    this.store = o.store;
    this.registry = o.registry;
    this.log = o.log;
    this.reports = o.reports;
    this.review = o.review;
    this.auth = o.auth;
    this.limits = o.limits ?? defaultLimits;
    this.metrics = createCollectorMetrics(o.registry, o.store);
    this.server = createServer({ keepAlive: true }, (req, res) => {
      this.handle(req, res).catch((err: Error) => {
        this.log.error({ err, path: req.url }, "Failed to handle request");
        if (!res.headersSent) refuse(req, res, 500, { error: err.message });
        else res.destroy();
      });
    });
    this.server.keepAliveTimeout = 65_000;
  }

  async listen(port: number, host: string): Promise<string> {
    return listen(this.server, port, host);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://collector");
    const path = url.pathname;
    if (OPEN_PATHS.has(path)) return this.open(path, res);
    if (this.auth) {
      const r = this.auth.check(req.headers.authorization);
      if (r !== "ok") {
        this.metrics.rejected.inc({ reason: "unauthorized" });
        return refuse(
          req,
          res,
          401,
          {
            error:
              r === "missing"
                ? "missing bearer token: send Authorization: Bearer <token>, the token in the collector's Secret"
                : "invalid bearer token: it matches no token in the collector's --token-file",
          },
          { "www-authenticate": 'Bearer realm="modelship-collector"' },
        );
      }
    }
    if (this.inFlight >= this.limits.maxConcurrentRequests) {
      this.metrics.rejected.inc({ reason: "busy" });
      return refuse(
        req,
        res,
        503,
        { error: `collector busy: ${this.inFlight} requests in progress; retry shortly` },
        { "retry-after": "1" },
      );
    }
    this.inFlight++;
    this.metrics.inFlight.inc();
    try {
      await this.route(req, res, url);
    } finally {
      this.inFlight--;
      this.metrics.inFlight.dec();
    }
  }

  private async open(path: string, res: ServerResponse): Promise<void> {
    if (path === "/metrics") {
      const text = await this.registry.metrics();
      res.writeHead(200, { "content-type": this.registry.contentType });
      res.end(text);
      return;
    }
    const ok = this.healthy === null;
    res.writeHead(ok ? 200 : 503, { "content-type": "text/plain" });
    res.end(ok ? "ok\n" : `store: ${this.healthy}\n`);
  }

  private async route(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const path = url.pathname;
    if (path === "/v1/events" && req.method === "POST") return this.ingest(req, res);
    if (path === "/v1/events" && req.method === "GET") return this.export(url, res);
    if (this.reports && (path === "/v1/reports" || path.startsWith("/v1/reports/")))
      return this.report(req, res, path, this.reports);
    if (this.review && path.startsWith("/v1/review/")) return this.reviewRoute(req, res, url, this.review);
    if (path === "/v1/models" && req.method === "GET")
      return json(res, 200, { models: await this.store.models() });
    refuse(req, res, 404, { error: `no route for ${req.method} ${path}; use POST or GET /v1/events` });
  }

  /**
   * GET /v1/review/{model}[?state=pending|claimed|labeled|all&limit=N]; POST /v1/review/{model}/claim
   * {"reviewer", "count"?, "leaseSeconds"?}; POST /v1/review/{model}/{eventId}/label {"reviewer", "label"};
   * POST /v1/review/{model}/{eventId}/release {"reviewer"}.
   */
  private async reviewRoute(req: IncomingMessage, res: ServerResponse, url: URL, queue: ReviewQueue) {
    const parts = url.pathname.split("/").slice(3).map(decodeURIComponent);
    const model = parts[0] ?? "";
    const usage =
      "use GET /v1/review/{model}, POST /v1/review/{model}/claim or POST /v1/review/{model}/{eventId}/label|release";
    try {
      if (model === "") throw new ReviewError(404, `no model in ${url.pathname}; ${usage}`);
      if (parts.length === 1 && req.method === "GET") {
        const state = url.searchParams.get("state") ?? "pending";
        if (state !== "all" && !REVIEW_STATES.includes(state as ReviewState))
          throw new ReviewError(400, `state must be pending, claimed, labeled or all, got "${state}"`);
        const limit = boundedInt(url.searchParams.get("limit"), "limit", 100, 1, 1000);
        return json(res, 200, { model, ...(await queue.list(model, state as ReviewState | "all", limit)) });
      }
      if (req.method !== "POST" || parts.length < 2 || parts.length > 3)
        throw new ReviewError(404, `no route for ${req.method} ${url.pathname}; ${usage}`);
      const body = await readReviewBody(req);
      const reviewer = body.reviewer;
      if (typeof reviewer !== "string" || reviewer.trim() === "" || reviewer.length > 256)
        throw new ReviewError(
          400,
          'body.reviewer must name who reviews (1-256 characters), e.g. {"reviewer": "ana"}',
        );
      if (parts.length === 2 && parts[1] === "claim") {
        const count = boundedInt(body.count, "count", 1, 1, 100);
        const leaseSeconds = boundedInt(body.leaseSeconds, "leaseSeconds", 900, 10, 86_400);
        const items = await queue.claim(model, reviewer, count, leaseSeconds * 1000);
        return json(res, 200, { model, reviewer, items });
      }
      if (parts.length === 3 && parts[2] === "label") {
        const label = body.label;
        if (!(["number", "string", "boolean"].includes(typeof label) || Array.isArray(label)))
          throw new ReviewError(
            400,
            'body.label must be the ground truth: a number, string, boolean, or an array with one per batch row, e.g. {"label": 2}',
          );
        const r = await queue.label(
          model,
          parts[1]!,
          reviewer,
          label as number | string | boolean | unknown[],
        );
        return json(res, r.created ? 201 : 200, { model, eventId: parts[1], feedbackId: r.feedbackId });
      }
      if (parts.length === 3 && parts[2] === "release") {
        await queue.release(model, parts[1]!, reviewer);
        return json(res, 200, { model, eventId: parts[1] });
      }
      throw new ReviewError(404, `no route for ${req.method} ${url.pathname}; ${usage}`);
    } catch (err) {
      if (err instanceof ReviewError) return refuse(req, res, err.status, { error: err.message });
      throw err;
    }
  }

  private tooLarge(req: IncomingMessage, res: ServerResponse, what: string, limit: number): void {
    this.metrics.rejected.inc({ reason: "too_large" });
    refuse(req, res, 413, { error: `${what} larger than ${limit} bytes` });
  }

  private async report(req: IncomingMessage, res: ServerResponse, path: string, reports: ReportStore) {
    if (path === "/v1/reports" && req.method === "POST") {
      const limit = MAX_REPORT_BYTES;
      if ((declaredLength(req) ?? 0) > limit) return this.tooLarge(req, res, "report", limit);
      const body = await readBody(req, limit);
      if (body === undefined) return this.tooLarge(req, res, "report", limit);
      let stored: { model: string; id: string };
      try {
        stored = await reports.put(body.toString("utf8"));
      } catch (err) {
        return json(res, 400, { error: (err as Error).message });
      }
      const location = `/v1/reports/${encodeURIComponent(stored.model)}/${stored.id}`;
      res.setHeader("location", location);
      return json(res, 201, { ...stored, path: location });
    }
    const parts = path.split("/").slice(3).map(decodeURIComponent);
    if (req.method !== "GET" || parts.length < 1 || parts.length > 2 || parts[0] === "")
      return refuse(req, res, 404, {
        error: `no route for ${req.method} ${path}; use POST /v1/reports or GET /v1/reports/{model}[/{id}|/latest]`,
      });
    const model = parts[0]!;
    if (parts.length === 1) return json(res, 200, { model, reports: await reports.list(model) });
    const text = await reports.get(model, parts[1]!);
    if (text === undefined)
      return json(res, 404, { error: `no drift report ${parts[1]} for model ${model}` });
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
    res.end(text);
  }

  /**
   * A batch with events over --max-event-bytes keeps its other events: they are stored and the big ones
   * counted in `oversized` and named in `errors`. A 4xx would make the sender drop the whole batch.
   */
  private async ingest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const { maxRequestBytes, maxEventBytes } = this.limits;
    const batchTooLarge = () => {
      this.metrics.batches.inc({ code: "413" });
      this.tooLarge(req, res, "batch", maxRequestBytes);
    };
    if ((declaredLength(req) ?? 0) > maxRequestBytes) return batchTooLarge();
    const body = await readBatch(req, this.limits);
    if (body.kind === "too_large") return batchTooLarge();
    if (body.kind === "bad") {
      this.metrics.batches.inc({ code: "400" });
      return json(res, 400, { error: `body must be NDJSON or a JSON array of events: ${body.message}` });
    }
    let result;
    try {
      result = await this.store.ingest(body.lines);
      this.healthy = null;
    } catch (err) {
      this.healthy = (err as Error).message;
      this.log.error({ err }, "Failed to write event batch");
      this.metrics.batches.inc({ code: "500" });
      return json(res, 500, { error: `store write failed: ${(err as Error).message}` });
    }
    const oversized = body.oversized.length;
    const answer = {
      accepted: result.accepted,
      duplicates: result.duplicates,
      invalid: result.invalid,
      oversized,
      expired: result.expired,
      errors: [
        ...body.oversized.map(
          (o) => `event ${o.index} is ${o.bytes} bytes, over the collector's limit of ${maxEventBytes}`,
        ),
        ...result.errors,
      ].slice(0, 5),
    };
    this.metrics.events.inc({ result: "stored" }, answer.accepted);
    this.metrics.events.inc({ result: "duplicate" }, answer.duplicates);
    this.metrics.events.inc({ result: "invalid" }, answer.invalid);
    this.metrics.events.inc({ result: "oversized" }, oversized);
    this.metrics.events.inc({ result: "expired" }, answer.expired);
    this.metrics.writeDuration.observe((performance.now() - started) / 1000);
    if (answer.invalid > 0 || oversized > 0)
      this.log.warn({ invalid: answer.invalid, oversized, errors: answer.errors }, "Rejected events");
    // a batch of nothing but bad events is the sender's bug: 400 so it stops retrying it
    const bad = answer.invalid + oversized;
    const code = bad > 0 && answer.accepted + answer.duplicates + answer.expired === 0 ? 400 : 200;
    this.metrics.batches.inc({ code: String(code) });
    json(res, code, answer);
  }

  private async export(url: URL, res: ServerResponse): Promise<void> {
    const model = url.searchParams.get("model");
    if (model === null || model === "")
      return json(res, 400, { error: "model is required: GET /v1/events?model=NAME" });
    let since: Date, until: Date;
    try {
      since = parseTime(url.searchParams.get("since"), "since", new Date(0));
      until = parseTime(url.searchParams.get("until"), "until", new Date(8.64e15));
    } catch (err) {
      return json(res, 400, { error: (err as Error).message });
    }
    const typeParam = url.searchParams.get("type");
    const type =
      typeParam === null || typeParam === ""
        ? undefined
        : typeParam === "inference"
          ? INFERENCE_EVENT_TYPE
          : typeParam === "feedback"
            ? FEEDBACK_EVENT_TYPE
            : typeParam;
    res.writeHead(200, { "content-type": "application/x-ndjson" });
    let n = 0;
    for await (const line of this.store.read(model, since, until, type)) {
      if (res.destroyed) break; // the reader left: stop reading files and free the slot
      n++;
      if (!res.write(line + "\n")) {
        await new Promise<void>((resolve) => {
          res.once("drain", resolve);
          res.once("close", resolve);
        });
        if (res.destroyed) break;
      }
    }
    this.metrics.exported.inc(n);
    res.end();
  }
}
