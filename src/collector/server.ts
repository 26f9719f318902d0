import { listen } from "../platform/listen.js";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { Logger } from "../platform/log.js";
import { FEEDBACK_EVENT_TYPE, INFERENCE_EVENT_TYPE } from "../events/constants.js";
import { MAX_REPORT_BYTES, type ReportStore } from "./reports.js";
import type { EventStore } from "./store.js";

export const MAX_BATCH_BYTES = 64 * 1024 * 1024;

function createCollectorMetrics(registry: Registry, store: EventStore) {
  const registers = [registry];
  return {
    events: new Counter({
      name: "modelship_collector_events_total",
      help: "Events received, by result: stored, duplicate or invalid.",
      labelNames: ["result"] as const,
      registers,
    }),
    batches: new Counter({
      name: "modelship_collector_batches_total",
      help: "Batches received, by HTTP status code answered.",
      labelNames: ["code"] as const,
      registers,
    }),
    writeDuration: new Histogram({
      name: "modelship_collector_batch_duration_seconds",
      help: "Time to validate, de-duplicate and durably write one batch.",
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

/** Splits a batch body: a JSON array of events, or NDJSON (one event per line). */
export function splitBatch(body: string): string[] {
  const trimmed = body.trimStart();
  if (trimmed.startsWith("[")) {
    const arr: unknown = JSON.parse(trimmed);
    if (!Array.isArray(arr)) throw new Error("body is not a JSON array");
    return arr.map((e) => JSON.stringify(e));
  }
  return body.split("\n").filter((l) => l.trim() !== "");
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

function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        resolve(undefined);
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/**
 * POST /v1/events (batch; 200 only once durable), GET /v1/events?model=&since=&until=[&type=] (NDJSON
 * stream, the drift job's input), GET /v1/models, drift reports (POST /v1/reports, GET
 * /v1/reports/{model}[/{id}|/latest]), and /metrics /healthz /readyz.
 */
export class CollectorServer {
  readonly server: Server;
  private readonly metrics: ReturnType<typeof createCollectorMetrics>;
  private healthy: string | null = null;

  constructor(
    private readonly store: EventStore,
    private readonly registry: Registry,
    private readonly log: Logger,
    private readonly reports?: ReportStore,
  ) {
    this.metrics = createCollectorMetrics(registry, store);
    this.server = createServer({ keepAlive: true }, (req, res) => {
      this.handle(req, res).catch((err: Error) => {
        log.error({ err, path: req.url }, "Failed to handle request");
        if (!res.headersSent) json(res, 500, { error: err.message });
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
    if (path === "/v1/events" && req.method === "POST") return this.ingest(req, res);
    if (path === "/v1/events" && req.method === "GET") return this.export(url, res);
    if (this.reports && (path === "/v1/reports" || path.startsWith("/v1/reports/")))
      return this.report(req, res, path, this.reports);
    if (path === "/v1/models" && req.method === "GET")
      return json(res, 200, { models: await this.store.models() });
    if (path === "/metrics") {
      const text = await this.registry.metrics();
      res.writeHead(200, { "content-type": this.registry.contentType });
      res.end(text);
      return;
    }
    if (path === "/healthz" || path === "/readyz" || path === "/livez") {
      const ok = this.healthy === null;
      res.writeHead(ok ? 200 : 503, { "content-type": "text/plain" });
      res.end(ok ? "ok\n" : `store: ${this.healthy}\n`);
      return;
    }
    json(res, 404, { error: `no route for ${req.method} ${path}; use POST or GET /v1/events` });
  }

  private async report(req: IncomingMessage, res: ServerResponse, path: string, reports: ReportStore) {
    if (path === "/v1/reports" && req.method === "POST") {
      const body = await readBody(req, MAX_REPORT_BYTES);
      if (body === undefined)
        return json(res, 413, { error: `report larger than ${MAX_REPORT_BYTES} bytes` });
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
      return json(res, 404, {
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

  private async ingest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const body = await readBody(req, MAX_BATCH_BYTES);
    if (body === undefined) {
      this.metrics.batches.inc({ code: "413" });
      return json(res, 413, { error: `batch larger than ${MAX_BATCH_BYTES} bytes; send smaller batches` });
    }
    let lines: string[];
    try {
      lines = splitBatch(body.toString("utf8"));
    } catch (err) {
      this.metrics.batches.inc({ code: "400" });
      return json(res, 400, {
        error: `body must be NDJSON or a JSON array of events: ${(err as Error).message}`,
      });
    }
    let result;
    try {
      result = await this.store.ingest(lines);
      this.healthy = null;
    } catch (err) {
      this.healthy = (err as Error).message;
      this.log.error({ err }, "Failed to write event batch");
      this.metrics.batches.inc({ code: "500" });
      return json(res, 500, { error: `store write failed: ${(err as Error).message}` });
    }
    this.metrics.events.inc({ result: "stored" }, result.accepted);
    this.metrics.events.inc({ result: "duplicate" }, result.duplicates);
    this.metrics.events.inc({ result: "invalid" }, result.invalid);
    this.metrics.writeDuration.observe((performance.now() - started) / 1000);
    if (result.invalid > 0)
      this.log.warn({ invalid: result.invalid, errors: result.errors }, "Rejected invalid events");
    // a batch of nothing but invalid events is the sender's bug: 400 so it stops retrying it
    const code = result.invalid > 0 && result.accepted === 0 && result.duplicates === 0 ? 400 : 200;
    this.metrics.batches.inc({ code: String(code) });
    json(res, code, result);
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
