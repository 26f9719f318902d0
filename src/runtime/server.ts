// The model server: HTTP/1.1 keep-alive, Open Inference Protocol v2 + KServe v1, one port for protocol, health and /metrics.
import { listen } from "../platform/listen.js";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { performance } from "node:perf_hooks";
import type { Registry } from "prom-client";
import type { Logger } from "../platform/log.js";
import { version as serverVersion } from "../version.js";
import { EVENT_ID_HEADER } from "../events/constants.js";
import { parseResponse, type ParsedBody } from "../events/oip.js";
import type { ErrorType } from "../events/schema.js";
import { inputDataTexts } from "../events/raw-json.js";
import { variantOf } from "../events/variant.js";
import type { Mirror } from "./mirror.js";
import { requestForEvent, responseForEvent, type ServeEventLog } from "./event-log.js";
import { fallbackReason, type Answer, type FallbackUpstream } from "./fallback.js";
import { rowCount } from "./batching.js";
import { zeros, elementCount, type TensorValue } from "./datatypes.js";
import { createRuntimeMetrics, type RuntimeMetrics } from "./metrics.js";
import { modelConfig } from "./model-config.js";
import { compareVersions, type ModelSpec } from "./model-spec.js";
import { WorkerPool } from "./pool.js";
import {
  decodeV1,
  decodeV2,
  encodeV1,
  encodeV2,
  encodeV2Binary,
  HEADER_LENGTH_HEADER,
  HttpError,
  modelMetadata,
  parseJson,
  splitBody,
  V2_EXTENSIONS,
  type DecodedRequest,
} from "./protocol.js";
import { clip, quote } from "./quote.js";
import { matchRoute } from "./routes.js";
import { ModelStats, modelStatsEntry } from "./stats.js";
import { InferenceError, QueueFullError, Scheduler, TimeoutError, type JobResult } from "./scheduler.js";
import { isBatchable, type Signature } from "./signature.js";
import type { ExecutionProvider } from "./worker-protocol.js";

export interface ServeOptions {
  models: ModelSpec[];
  host: string;
  port: number;
  workers: number;
  intraOpThreads: number;
  maxBatchSize: number;
  maxQueueDelayMs: number;
  maxQueue: number;
  requestTimeoutMs: number;
  maxBodyBytes: number;
  executionProvider: ExecutionProvider;
  allowCpuFallback: boolean;
  log: Logger;
  registry: Registry;
  /** Record one InferenceEvent per inference request (built-in pods; custom containers use the logger). */
  events?: ServeEventLog;
  /** Retry a request the local model failed (5xx, timeout, not ready) here once: the stable Service. */
  fallback?: FallbackUpstream;
  /** Copy a share of inference requests to the shadow target, after each answer (see mirror.ts). */
  mirror?: Mirror;
}

export interface ModelEntry {
  spec: ModelSpec;
  key: string;
  signature?: Signature;
  batchable: boolean;
  provider: ExecutionProvider;
  ready: boolean;
  stats: ModelStats;
  m: {
    requestSeconds: ReturnType<RuntimeMetrics["requestSeconds"]["labels"]>;
    queueSeconds: ReturnType<RuntimeMetrics["queueSeconds"]["labels"]>;
    computeSeconds: ReturnType<RuntimeMetrics["computeSeconds"]["labels"]>;
    inFlight: ReturnType<RuntimeMetrics["inFlight"]["labels"]>;
  };
}

/** Another protocol's listener over the same models (grpc-server.ts): it drains and closes with this server. */
export interface FrontEnd {
  shutdown(graceMs: number): Promise<void>;
  close(): Promise<void>;
}

const JSON_TYPE = { "content-type": "application/json" };
const LOADING = "models are loading";

function sendJson(
  res: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { ...JSON_TYPE, "content-length": Buffer.byteLength(body), ...headers });
  res.end(body);
}

function sendError(
  res: ServerResponse,
  status: number,
  message: string,
  headers: Record<string, string> = {},
): void {
  sendJson(res, status, JSON.stringify({ error: message }), headers);
}

function jsonAnswer(status: number, body: string, headers: Record<string, string> = {}): Answer {
  return { status, headers: { ...JSON_TYPE, ...headers }, body };
}

/** The v2 answer: JSON, or when binary outputs were asked for, the JSON part then their raw bytes. */
function v2Answer(
  spec: ModelSpec,
  sig: Signature,
  d: DecodedRequest,
  outputs: Record<string, TensorValue>,
): Answer {
  if (d.binaryOutputs === undefined) {
    return jsonAnswer(200, encodeV2(spec.name, spec.version, d.id, sig, outputs, d.outputs));
  }
  const { body, jsonLength } = encodeV2Binary(
    spec.name,
    spec.version,
    d.id,
    sig,
    outputs,
    d.outputs,
    d.binaryOutputs,
  );
  return {
    status: 200,
    headers: { "content-type": "application/octet-stream", [HEADER_LENGTH_HEADER]: String(jsonLength) },
    body,
  };
}

function send(res: ServerResponse, a: Answer): void {
  if (res.destroyed) return;
  res.writeHead(a.status, { ...a.headers, "content-length": Buffer.byteLength(a.body) });
  res.end(a.body);
}

/** Why a request failed, as the event records it. */
function errorTypeOf(status: number, aborted: boolean): ErrorType {
  if (aborted) return "client_aborted";
  if (status === 504) return "timeout";
  return status >= 500 ? "model_error" : "bad_request";
}

/** A fallback's answer as the event records it: its JSON part parsed (tensor data of binary outputs left out). */
function parsedAnswer(protocol: "v1" | "v2", a: Answer): ParsedBody | "malformed" {
  const body = typeof a.body === "string" ? Buffer.from(a.body) : a.body;
  const jsonLength = Number(a.headers[HEADER_LENGTH_HEADER] ?? body.length);
  try {
    return parseResponse(protocol, JSON.parse(body.subarray(0, jsonLength).toString("utf8"))) ?? "malformed";
  } catch {
    return "malformed";
  }
}

/** Reads the whole body, refusing more than `limit` bytes with 413 before buffering them. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) {
    return Promise.reject(
      new HttpError(413, `request body of ${declared} bytes exceeds --max-body-bytes ${limit}`),
    );
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.removeAllListeners("data");
        req.resume();
        reject(new HttpError(413, `request body exceeds --max-body-bytes ${limit}`));
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.on("error", reject);
    // A client that hangs up mid-body must not leave this promise (and its in-flight gauge) pending.
    req.on("close", () => {
      if (!req.complete)
        reject(new HttpError(400, "client closed the connection before sending the whole body"));
    });
  });
}

export class ModelServer {
  readonly metrics: RuntimeMetrics;
  private server: Server;
  private byName = new Map<string, Map<string, ModelEntry>>();
  private byKey = new Map<string, ModelEntry>();
  private pool: WorkerPool | undefined;
  private scheduler: Scheduler | undefined;
  private draining = false;
  /** Why the server is not ready, shown by /v2/health/ready; null once ready. */
  private notReadyReason: string | null = LOADING;
  url = "";

  constructor(private opts: ServeOptions) {
    this.metrics = createRuntimeMetrics(opts.registry);
    for (const spec of opts.models) {
      const key = `${spec.name}@${spec.version}`;
      const labels = { model: spec.name, version: spec.version };
      const entry: ModelEntry = {
        spec,
        key,
        batchable: false,
        provider: opts.executionProvider,
        ready: false,
        stats: new ModelStats(),
        m: {
          requestSeconds: this.metrics.requestSeconds.labels(labels),
          queueSeconds: this.metrics.queueSeconds.labels(labels),
          computeSeconds: this.metrics.computeSeconds.labels(labels),
          inFlight: this.metrics.inFlight.labels(labels),
        },
      };
      this.metrics.modelReady.set(labels, 0);
      let versions = this.byName.get(spec.name);
      if (versions === undefined) this.byName.set(spec.name, (versions = new Map()));
      versions.set(spec.version, entry);
      this.byKey.set(key, entry);
    }
    this.server = createServer((req, res) => this.handle(req, res));
    // Longer than common load balancer idle timeouts, so the balancer closes first.
    this.server.keepAliveTimeout = 65_000;
    this.server.headersTimeout = 66_000;
  }

  /** Starts listening at once, so probes get honest answers (live, not ready) while models load. */
  async listen(): Promise<void> {
    this.url = await listen(this.server, this.opts.port, this.opts.host);
    this.opts.log.info(
      { url: this.url, models: this.opts.models.map((m) => `${m.name}@${m.version}`) },
      "Started model server",
    );
  }

  /** Loads every model in every worker, then warms each up; throws ModelLoadError on a bad model. */
  async load(): Promise<void> {
    const { log } = this.opts;
    const entries = [...this.entries()];
    const { pool, models } = await WorkerPool.start({
      size: this.opts.workers,
      models: entries.map((e) => ({ key: e.key, path: e.spec.path })),
      settings: {
        intraOpThreads: this.opts.intraOpThreads,
        executionProvider: this.opts.executionProvider,
        allowCpuFallback: this.opts.allowCpuFallback,
      },
      log,
    });
    this.pool = pool;
    this.scheduler = new Scheduler(
      pool,
      {
        onBatch: (key, rows) => {
          const e = this.entryByKey(key);
          if (e === undefined) return;
          this.metrics.batchSize.observe({ model: e.spec.name, version: e.spec.version }, rows);
          e.stats.recordExecution();
        },
        onDepth: (key, depth) => {
          const e = this.entryByKey(key);
          if (e) this.metrics.queueDepth.set({ model: e.spec.name, version: e.spec.version }, depth);
        },
      },
      (key, msg) => log.warn({ model: key }, msg),
    );
    for (const loaded of models) {
      const e = this.entryByKey(loaded.key)!;
      e.signature = loaded.signature;
      e.provider = loaded.provider;
      e.batchable = isBatchable(loaded.signature) && this.opts.maxBatchSize > 1;
      if (loaded.fallbackReason !== undefined) {
        log.warn(
          { model: e.key, reason: loaded.fallbackReason },
          "Fell back to the CPU execution provider (--allow-cpu-fallback)",
        );
      }
      this.scheduler.addModel(e.key, {
        batchable: e.batchable,
        maxBatchSize: this.opts.maxBatchSize,
        maxQueueDelayMs: this.opts.maxQueueDelayMs,
        maxQueue: this.opts.maxQueue,
      });
      this.metrics.loadSeconds.set({ model: e.spec.name, version: e.spec.version }, loaded.loadMs / 1000);
      log.info(
        {
          model: e.spec.name,
          version: e.spec.version,
          provider: e.provider,
          batchable: e.batchable,
          loadMs: Math.round(loaded.loadMs),
        },
        "Loaded model",
      );
    }
    for (const e of entries) {
      await this.warmUp(e);
      e.ready = true;
      this.metrics.modelReady.set({ model: e.spec.name, version: e.spec.version }, 1);
    }
    this.notReadyReason = null;
    log.info({ models: entries.length, workers: this.opts.workers }, "Became ready");
  }

  /** One run per worker with zero inputs (dynamic dims = 1), so the first real request pays no first-run cost. */
  private async warmUp(e: ModelEntry): Promise<void> {
    const sig = e.signature!;
    const feeds = (): Record<string, TensorValue> => {
      const f: Record<string, TensorValue> = {};
      for (const s of sig.inputs) {
        const dims = s.shape.map((d) => (d === -1 ? 1 : d));
        f[s.name] = { type: s.type, dims, data: zeros(s.type, elementCount(dims)) };
      }
      return f;
    };
    try {
      await this.pool!.runOnEach(e.key, feeds);
      this.opts.log.info({ model: e.spec.name, version: e.spec.version }, "Warmed up model");
    } catch (err) {
      // Some models reject all-zero inputs; the session is loaded, so this is worth a warning, not a refusal.
      this.opts.log.warn(
        { model: e.spec.name, version: e.spec.version, err },
        "Failed warm-up run with zero inputs",
      );
    }
  }

  /** Keeps serving, but reports not ready with this reason (e.g. the CUDA provider is missing). */
  refuseReadiness(reason: string): void {
    this.notReadyReason = reason;
  }

  private *entries(): Iterable<ModelEntry> {
    for (const versions of this.byName.values()) yield* versions.values();
  }

  private entryByKey(key: string): ModelEntry | undefined {
    return this.byKey.get(key);
  }

  private resolve(model: string, version: string | undefined): ModelEntry {
    const versions = this.byName.get(model);
    if (versions === undefined) {
      throw new HttpError(
        404,
        `model ${quote(model)} not found; this server has ${[...this.byName.keys()].map((n) => `"${n}"`).join(", ")}`,
      );
    }
    if (version === undefined) {
      const latest = [...versions.keys()].sort(compareVersions).at(-1)!;
      return versions.get(latest)!;
    }
    const e = versions.get(version);
    if (e === undefined) {
      throw new HttpError(
        404,
        `model ${quote(model)} has no version ${quote(version)}; versions: ${[...versions.keys()].join(", ")}`,
      );
    }
    return e;
  }

  /** serve's own event log, when it records events (the gRPC front end records through it too). */
  get events(): ServeEventLog | undefined {
    return this.opts.events;
  }

  get ready(): boolean {
    return this.notReadyReason === null && !this.draining;
  }

  // Shared with the gRPC front end (grpc-server.ts): one registry, one queue per model, one set of metrics.
  private frontEnds: FrontEnd[] = [];

  /** Drains and closes `f` with this server, before the workers stop. */
  attach(f: FrontEnd): void {
    this.frontEnds.push(f);
  }

  /** The entry serving model[@version] (the highest version when absent); throws HttpError 404 naming what is served. */
  lookup(model: string, version: string | undefined): ModelEntry {
    return this.resolve(model, version);
  }

  versionsOf(name: string): string[] {
    return [...(this.byName.get(name)?.keys() ?? [])];
  }

  /**
   * Queues validated feeds as an HTTP request's are queued, recording queue and compute time. A caller
   * with its own deadline (a gRPC client's) passes what is left of it, so the queue drops the request
   * when nobody waits for it any more.
   */
  async submit(e: ModelEntry, feeds: Record<string, TensorValue>, budgetMs?: number): Promise<JobResult> {
    const own = this.opts.requestTimeoutMs;
    const timeoutMs = budgetMs === undefined ? own : own === 0 ? budgetMs : Math.min(own, budgetMs);
    const result = await this.scheduler!.submit(e.key, feeds, timeoutMs);
    e.m.queueSeconds.observe(result.queueMs / 1000);
    e.m.computeSeconds.observe(result.computeMs / 1000);
    return result;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    // While draining, every answer closes its connection so keep-alive clients move to other pods.
    if (this.draining) res.shouldKeepAlive = false;
    const route = matchRoute(req.method ?? "GET", req.url ?? "/");
    switch (route.kind) {
      case "live":
        return sendJson(res, 200, '{"live":true}');
      case "ready":
        if (this.ready) return sendJson(res, 200, '{"ready":true}');
        return sendJson(
          res,
          503,
          JSON.stringify({ ready: false, error: this.draining ? "shutting down" : this.notReadyReason }),
        );
      case "server-metadata":
        return sendJson(
          res,
          200,
          JSON.stringify({ name: "modelship", version: serverVersion, extensions: V2_EXTENSIONS }),
        );
      case "metrics":
        this.opts.events?.observe();
        this.opts.registry.metrics().then(
          (text) => {
            res.writeHead(200, { "content-type": this.opts.registry.contentType });
            res.end(text);
          },
          (err: Error) => sendError(res, 500, err.message),
        );
        return;
      case "repository-index":
        void this.repositoryIndex(req, res);
        return;
      case "feedback":
        void this.feedback(req, res);
        return;
      case "method-not-allowed":
        req.resume();
        return sendError(res, 405, `use ${route.allow} for ${clip(req.url ?? "")}`, { allow: route.allow });
      case "not-found":
        req.resume();
        return sendError(res, 404, `no route for ${req.method} ${clip(req.url ?? "")}`);
    }
    try {
      const e = this.resolve(
        route.model,
        route.kind === "v1-model" || route.kind === "v1-predict" ? undefined : route.version,
      );
      switch (route.kind) {
        case "model-metadata":
          if (e.signature === undefined) throw new HttpError(503, `model "${e.spec.name}" is not loaded yet`);
          return sendJson(
            res,
            200,
            JSON.stringify(
              modelMetadata(e.spec.name, [...this.byName.get(e.spec.name)!.keys()], e.signature, e.provider),
            ),
          );
        case "model-ready":
        case "v1-model":
          return sendJson(res, e.ready ? 200 : 503, JSON.stringify({ name: e.spec.name, ready: e.ready }));
        case "model-config":
          if (e.signature === undefined) throw new HttpError(503, `model "${e.spec.name}" is not loaded yet`);
          return sendJson(
            res,
            200,
            JSON.stringify(
              modelConfig(e.spec.name, e.signature, {
                batchable: e.batchable,
                maxBatchSize: this.opts.maxBatchSize,
                maxQueueDelayMs: this.opts.maxQueueDelayMs,
                workers: this.opts.workers,
                provider: e.provider,
              }),
            ),
          );
        case "model-stats":
          return sendJson(
            res,
            200,
            JSON.stringify({ model_stats: [modelStatsEntry(e.spec.name, e.spec.version, e.stats)] }),
          );
        case "infer":
        case "v1-predict":
          void this.infer(req, res, e, route.kind === "infer" ? "v2" : "v1");
          return;
      }
    } catch (err) {
      req.resume();
      if (err instanceof HttpError) return sendError(res, err.status, err.message, err.headers);
      this.opts.log.error({ err }, "Failed to handle request");
      return sendError(res, 500, "internal error");
    }
  }

  private async infer(
    req: IncomingMessage,
    res: ServerResponse,
    e: ModelEntry,
    protocol: "v1" | "v2",
  ): Promise<void> {
    const t0 = performance.now();
    const time = new Date();
    let result: JobResult | undefined;
    let rows = 1;
    let raw: Buffer | undefined;
    let body: unknown;
    let decoded: DecodedRequest | undefined;
    let binary: Buffer | undefined;
    let json: Buffer | undefined;
    let answer: Answer;
    let error: { type: ErrorType; message: string } | undefined;
    e.m.inFlight.inc();
    try {
      // read and parsed first even when not ready: the fallback and the event need the body
      raw = await readBody(req, this.opts.maxBodyBytes);
      if (protocol === "v2") {
        const parts = splitBody(raw, req.headers[HEADER_LENGTH_HEADER] as string | undefined);
        binary = parts.binary;
        json = parts.json;
        body = parseJson(json);
      } else {
        body = parseJson(raw);
      }
      if (!e.ready || e.signature === undefined) {
        throw new HttpError(503, `model "${e.spec.name}" version "${e.spec.version}" is not ready`, {
          "retry-after": "1",
        });
      }
      decoded =
        protocol === "v2"
          ? decodeV2(body, e.signature, e.batchable, binary)
          : decodeV1(body, e.signature, e.batchable);
      if (e.batchable) rows = rowCount(decoded.feeds);
      result = await this.scheduler!.submit(e.key, decoded.feeds, this.opts.requestTimeoutMs);
      e.m.queueSeconds.observe(result.queueMs / 1000);
      e.m.computeSeconds.observe(result.computeMs / 1000);
      answer =
        protocol === "v1"
          ? jsonAnswer(200, encodeV1(e.signature, result.outputs))
          : v2Answer(e.spec, e.signature, decoded, result.outputs);
    } catch (err) {
      let status: number;
      let headers: Record<string, string> = {};
      let message = (err as Error).message;
      if (err instanceof HttpError) {
        status = err.status;
        headers = err.headers;
      } else if (err instanceof QueueFullError) {
        status = 503;
        headers = { "retry-after": "1" };
      } else if (err instanceof TimeoutError) {
        status = 504;
      } else if (err instanceof InferenceError) {
        status = 400;
        message = `model rejected the inputs: ${message}`;
      } else {
        status = 500;
        this.opts.log.error({ err, model: e.key }, "Failed inference request");
      }
      // A 413 leaves unread bytes on the socket; close it rather than parse them as the next request.
      if (status === 413) headers = { ...headers, connection: "close" };
      answer = jsonAnswer(status, JSON.stringify({ error: message }), headers);
      error = { type: errorTypeOf(status, !req.complete), message };
    } finally {
      e.m.inFlight.dec();
    }
    const totalMs = performance.now() - t0;
    e.m.requestSeconds.observe(totalMs / 1000);
    // the local model's outcome, before any fallback: what canary analysis judges
    if (answer.status === 200 && result !== undefined) {
      e.stats.recordSuccess(Date.now(), rows, totalMs, result.queueMs, result.computeMs);
    } else {
      e.stats.recordFailure(totalMs);
    }
    this.metrics.requests.inc({
      model: e.spec.name,
      version: e.spec.version,
      protocol,
      code: String(answer.status),
    });

    let fallback = false;
    const reason = this.opts.fallback && raw ? fallbackReason(answer.status, req.headers) : undefined;
    if (reason !== undefined) {
      const fb = await this.opts.fallback!.forward(req, raw!);
      if (fb !== undefined) {
        this.metrics.fallbacks.inc({ reason });
        answer = fb;
        fallback = true;
      }
    }

    const events = this.opts.events;
    let eventId: string | undefined;
    if (events !== undefined && events.wants(answer.status)) {
      const sig = e.signature;
      const response =
        fallback && answer.status >= 200 && answer.status < 300
          ? parsedAnswer(protocol, answer)
          : result !== undefined && decoded !== undefined && sig !== undefined
            ? responseForEvent(protocol, sig, result.outputs, decoded.outputs, decoded.id)
            : undefined;
      const request = body !== undefined ? requestForEvent(protocol, body, binary) : undefined;
      const id = await events.record({
        model: { name: e.spec.name, version: e.spec.version },
        time,
        path: req.url ?? "/",
        protocol,
        headers: req.headers,
        status: answer.status,
        latencyMs: performance.now() - t0,
        fallback,
        ...(error !== undefined && !fallback ? { error } : {}),
        shadow: variantOf(req.headers, "stable") === "shadow",
        request,
        ...(json !== undefined && request !== undefined ? { inputTexts: inputDataTexts(json) } : {}),
        requestBytes: raw?.length ?? 0,
        ...(raw !== undefined && request === undefined ? { rawRequest: raw } : {}),
        response,
        responseBytes: Buffer.byteLength(answer.body),
      });
      if (id !== undefined) answer.headers[EVENT_ID_HEADER] = id;
      eventId = id;
    }
    send(res, answer);
    if (raw !== undefined) this.opts.mirror?.copy(req, raw, eventId);
  }

  /** POST /v2/feedback: ground truth for an earlier prediction, recorded as a feedback event. */
  private async feedback(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const events = this.opts.events;
    try {
      if (events === undefined) {
        req.resume();
        throw new HttpError(404, "feedback needs event logging: start serve with --sink");
      }
      const raw = await readBody(req, this.opts.maxBodyBytes);
      let recorded;
      try {
        recorded = await events.feedback(parseJson(raw));
      } catch (err) {
        if (err instanceof HttpError) throw err;
        throw new HttpError(400, (err as Error).message);
      }
      if (recorded === undefined) {
        throw new HttpError(503, "spool full, feedback not recorded; retry later", { "retry-after": "1" });
      }
      sendJson(res, 202, JSON.stringify(recorded));
    } catch (err) {
      if (err instanceof HttpError) return sendError(res, err.status, err.message, err.headers);
      this.opts.log.error({ err }, "Failed to record feedback");
      sendError(res, 500, "internal error");
    }
  }

  /** POST /v2/repository/index: every model version and its state; {"ready": true} keeps the ready ones. */
  private async repositoryIndex(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const raw = await readBody(req, this.opts.maxBodyBytes);
      const body = raw.length === 0 ? {} : parseJson(raw);
      const onlyReady =
        typeof body === "object" && body !== null && (body as { ready?: unknown }).ready === true;
      const index = [...this.entries()]
        .map((e) => ({ name: e.spec.name, version: e.spec.version, ...this.modelState(e) }))
        .filter((m) => !onlyReady || m.state === "READY");
      sendJson(res, 200, JSON.stringify(index));
    } catch (err) {
      if (err instanceof HttpError) return sendError(res, err.status, err.message, err.headers);
      this.opts.log.error({ err }, "Failed to list the model repository");
      sendError(res, 500, "internal error");
    }
  }

  /** A model version's state as Triton's repository index names it. */
  private modelState(e: ModelEntry): { state: "READY" | "LOADING" | "UNAVAILABLE"; reason?: string } {
    if (e.ready) return { state: "READY" };
    if (this.notReadyReason === LOADING) return { state: "LOADING" };
    return { state: "UNAVAILABLE", reason: this.notReadyReason ?? "not ready" };
  }

  /** SIGTERM: report not ready at once, stop accepting connections, answer what is in flight, stop workers. */
  async shutdown(graceMs: number): Promise<void> {
    this.draining = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    const drained = (this.scheduler?.drain() ?? Promise.resolve()).then(async () => {
      // Nothing is in flight: connections still open are idle keep-alives (or about to be); close them.
      this.server.closeIdleConnections();
      await new Promise((r) => setTimeout(r, 1_000));
      this.server.closeAllConnections();
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">(
      (resolve) => (timer = setTimeout(() => resolve("timeout"), graceMs)),
    );
    const outcome = await Promise.race([
      Promise.all([drained, closed, ...this.frontEnds.map((f) => f.shutdown(graceMs))]).then(
        () => "drained" as const,
      ),
      timeout,
    ]);
    clearTimeout(timer);
    if (outcome === "timeout") {
      this.opts.log.warn(
        { inFlight: this.scheduler?.inFlight ?? 0 },
        "Timed out draining, closed connections",
      );
      this.server.closeAllConnections();
    }
    await this.pool?.close();
    this.opts.log.info({}, "Stopped model server");
  }

  /** Immediate close, for tests and startup failures. */
  async close(): Promise<void> {
    this.draining = true;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await Promise.all(this.frontEnds.map((f) => f.close()));
    await this.pool?.close();
  }
}
