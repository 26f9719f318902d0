// The model server's gRPC front end: Open Inference Protocol v2's GRPCInferenceService on its own port,
// over the same models, queues and metrics as the HTTP one (server.ts).
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { format } from "node:util";
import {
  loadPackageDefinition,
  Server,
  ServerCredentials,
  setLogger,
  status,
  type GrpcObject,
  type sendUnaryData,
  Metadata,
  type ServerUnaryCall,
  type ServiceClientConstructor,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { loadSync, type Options } from "@grpc/proto-loader";
import { ListenError } from "../platform/listen.js";
import type { Logger } from "../platform/log.js";
import { version as serverVersion } from "../version.js";
import { EVENT_ID_HEADER } from "../events/constants.js";
import type { ParsedBody } from "../events/oip.js";
import type { ErrorType } from "../events/schema.js";
import { ORT_TO_OIP, toPlain, type TensorValue } from "./datatypes.js";
import { responseForEvent, type ServeEventLog } from "./event-log.js";
import {
  decodeInferRequest,
  encodeInferResponse,
  failureOf,
  type ModelInferRequest,
  type ModelInferResponse,
} from "./grpc-codec.js";
import type { RuntimeMetrics } from "./metrics.js";
import { HttpError, modelMetadata } from "./protocol.js";
import type { JobResult } from "./scheduler.js";
import type { FrontEnd, ModelEntry } from "./server.js";
import { rowCount } from "./batching.js";

/** The service definition, shipped in proto/ at the package root: two levels above src/runtime and dist/runtime. */
export const protoPath = fileURLToPath(new URL("../../proto/grpc_predict_v2.proto", import.meta.url));

/**
 * Messages as plain objects with the .proto's field names, 64-bit integers as exact decimal strings
 * (shapes and INT64/UINT64 contents beyond 2^53 stay exact), absent fields as their defaults.
 */
export const loaderOptions: Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

/** The GRPCInferenceService client constructor, for tests and tools (the server uses its .service). */
export function inferenceService(): ServiceClientConstructor {
  const pkg = loadPackageDefinition(loadSync(protoPath, loaderOptions));
  return (pkg.inference as GrpcObject).GRPCInferenceService as ServiceClientConstructor;
}

/**
 * grpc-js prints its own errors to stderr as free text; this sends them to the structured log instead.
 * grpc-js has one logger per process, so the command wires it once.
 */
export function routeGrpcLogs(log: Logger): void {
  const to =
    (level: "warn" | "info" | "debug") =>
    (...args: unknown[]) =>
      log[level]({ detail: format(...args) }, "Reported by grpc-js");
  setLogger({ error: to("warn"), info: to("info"), debug: to("debug") });
}

/**
 * Clients keep one HTTP/2 connection open for good, and a Kubernetes Service balances connections, not
 * calls: asking clients to reconnect now and then spreads them over pods added since (scale-out, rollout).
 */
const MAX_CONNECTION_AGE_MS = 5 * 60_000;

/** What the gRPC front end uses of the model server; ModelServer is one. */
export interface InferenceBackend {
  readonly ready: boolean;
  readonly metrics: RuntimeMetrics;
  lookup(model: string, version: string | undefined): ModelEntry;
  versionsOf(name: string): string[];
  submit(e: ModelEntry, feeds: Record<string, TensorValue>, budgetMs?: number): Promise<JobResult>;
  /** Records one InferenceEvent per call, as for HTTP requests, when serve logs events. */
  readonly events?: ServeEventLog | undefined;
}

/** The path gRPC calls are recorded under in events. */
const INFER_PATH = "/inference.GRPCInferenceService/ModelInfer";

/** The bytes a set of tensors holds, which the event's --max-payload-bytes cap is judged by. */
function tensorBytes(tensors: Record<string, TensorValue>): number {
  let n = 0;
  for (const t of Object.values(tensors)) {
    n += ArrayBuffer.isView(t.data) ? t.data.byteLength : t.data.reduce((m, v) => m + v.length + 4, 0);
  }
  return n;
}

/** The request's tensors for the event, taken before the feeds move to the worker thread. */
function requestTensors(id: string | undefined, feeds: Record<string, TensorValue>): ParsedBody {
  const tensors = Object.entries(feeds).map(([name, t]) => ({
    name,
    shape: t.dims,
    datatype: ORT_TO_OIP[t.type],
    data: toPlain(t.type, t.data),
  }));
  return id === undefined ? { tensors } : { id, tensors };
}

export interface GrpcServeOptions {
  host: string;
  port: number;
  /** Larger messages get RESOURCE_EXHAUSTED before they are decoded (serve's --max-body-bytes). */
  maxMessageBytes: number;
  log: Logger;
}

/** Milliseconds left before the client's deadline, or undefined when it set none. */
function budgetOf(deadline: Date | number): number | undefined {
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(at) ? Math.max(1, at - Date.now()) : undefined;
}

type Unary<Req, Res> = (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => void;

export class GrpcInferenceServer implements FrontEnd {
  private server: Server;
  url = "";

  constructor(
    private backend: InferenceBackend,
    private opts: GrpcServeOptions,
  ) {
    this.server = new Server({
      "grpc.max_receive_message_length": opts.maxMessageBytes,
      "grpc.max_connection_age_ms": MAX_CONNECTION_AGE_MS,
      // A call running when its connection ages out still gets this long to finish.
      "grpc.max_connection_age_grace_ms": 60_000,
    });
    const handlers: Record<string, Unary<never, unknown>> = {
      ServerLive: (_call, cb) => cb(null, { live: true }),
      ServerReady: (_call, cb) => cb(null, { ready: this.backend.ready }),
      ServerMetadata: (_call, cb) => cb(null, { name: "modelship", version: serverVersion, extensions: [] }),
      ModelReady: this.modelReady,
      ModelMetadata: this.modelMetadata,
      ModelInfer: (call: ServerUnaryCall<ModelInferRequest, ModelInferResponse>, cb) =>
        void this.infer(call, cb),
    };
    this.server.addService(inferenceService().service, handlers as unknown as UntypedServiceImplementation);
  }

  /**
   * Starts listening; the caller starts it beside HTTP, so ServerLive answers while models load. Throws
   * ListenError, worded as HTTP's is, when the port cannot be opened.
   */
  async listen(): Promise<void> {
    const { host, port } = this.opts;
    const bound = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(
        `${host.includes(":") ? `[${host}]` : host}:${port}`,
        ServerCredentials.createInsecure(),
        (err, p) => {
          if (err === null) return resolve(p);
          // grpc-js folds the socket's error into its message ("... [listen EADDRINUSE: ...]").
          const code = /\b(E[A-Z]{3,})\b/.exec(err.message)?.[1];
          reject(new ListenError(host, port, Object.assign(new Error(err.message), { code })));
        },
      ),
    );
    this.url = `${host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host}:${bound}`;
    this.opts.log.info({ url: this.url }, "Started gRPC server");
  }

  /** Refuses new calls (GOAWAY), lets running ones finish, and cuts off what is left after graceMs. */
  shutdown(graceMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    this.server.forceShutdown();
  }

  /** The entry for a request's model, or a failed call: NOT_FOUND names what this server has. */
  private find(name: string, version: string, cb: sendUnaryData<never>): ModelEntry | undefined {
    try {
      if (name === "") throw new HttpError(400, "the model name is empty");
      return this.backend.lookup(name, version === "" ? undefined : version);
    } catch (err) {
      const f = failureOf(err);
      cb({ code: f.code, details: f.details });
      return undefined;
    }
  }

  private modelReady: Unary<{ name: string; version: string }, { ready: boolean }> = (call, cb) => {
    const e = this.find(call.request.name, call.request.version, cb);
    if (e) cb(null, { ready: e.ready });
  };

  private modelMetadata: Unary<{ name: string; version: string }, unknown> = (call, cb) => {
    const e = this.find(call.request.name, call.request.version, cb);
    if (e === undefined) return;
    if (e.signature === undefined) {
      cb({ code: status.UNAVAILABLE, details: `model "${e.spec.name}" is not loaded yet` });
      return;
    }
    const { name, versions, platform, inputs, outputs } = modelMetadata(
      e.spec.name,
      this.backend.versionsOf(e.spec.name),
      e.signature,
      e.provider,
    );
    cb(null, { name, versions, platform, inputs, outputs });
  };

  /** ModelInfer, metered as HTTP requests are (protocol "grpc", code the HTTP status of the same outcome). */
  private async infer(
    call: ServerUnaryCall<ModelInferRequest, ModelInferResponse>,
    cb: sendUnaryData<ModelInferResponse>,
  ): Promise<void> {
    const req = call.request;
    const e = this.find(req.model_name, req.model_version, cb);
    if (e === undefined) return;
    const t0 = performance.now();
    const time = new Date();
    const events = this.backend.events;
    let code = 200;
    let answer: ModelInferResponse | undefined;
    let failure: { code: number; details: string; type: ErrorType } | undefined;
    let request: ParsedBody | undefined;
    let response: ParsedBody | undefined;
    let requestBytes = 0;
    let responseBytes = 0;
    let rows = 1;
    let result: JobResult | undefined;
    e.m.inFlight.inc();
    try {
      if (!e.ready || e.signature === undefined) {
        throw new HttpError(503, `model "${e.spec.name}" version "${e.spec.version}" is not ready`);
      }
      const decoded = decodeInferRequest(req, e.signature, e.batchable);
      if (events !== undefined) {
        request = requestTensors(decoded.id, decoded.feeds);
        requestBytes = tensorBytes(decoded.feeds);
      }
      if (e.batchable) rows = rowCount(decoded.feeds);
      result = await this.backend.submit(e, decoded.feeds, budgetOf(call.getDeadline()));
      if (events !== undefined) {
        response = responseForEvent("v2", e.signature, result.outputs, decoded.outputs, decoded.id);
        responseBytes = tensorBytes(result.outputs);
      }
      answer = encodeInferResponse(
        e.spec.name,
        e.spec.version,
        decoded.id,
        e.signature,
        result.outputs,
        decoded.outputs,
        decoded.raw,
      );
    } catch (err) {
      const f = failureOf(err);
      code = f.http;
      if (f.unexpected) this.opts.log.error({ err, model: e.key }, "Failed inference request");
      const type: ErrorType = code === 504 ? "timeout" : code >= 500 ? "model_error" : "bad_request";
      failure = { code: f.code, details: f.details, type };
    } finally {
      e.m.inFlight.dec();
      const totalMs = performance.now() - t0;
      e.m.requestSeconds.observe(totalMs / 1000);
      // the statistics extension counts gRPC calls as it counts HTTP requests
      if (code === 200 && result !== undefined) {
        e.stats.recordSuccess(Date.now(), rows, totalMs, result.queueMs, result.computeMs);
      } else {
        e.stats.recordFailure(totalMs);
      }
      this.backend.metrics.requests.inc({
        model: e.spec.name,
        version: e.spec.version,
        protocol: "grpc",
        code: String(code),
      });
    }
    if (events !== undefined && events.wants(code)) {
      const requestId = call.metadata.get("x-request-id")[0];
      const id = await events.record({
        model: { name: e.spec.name, version: e.spec.version },
        time,
        path: INFER_PATH,
        protocol: "v2",
        headers: requestId === undefined ? {} : { "x-request-id": String(requestId) },
        status: code,
        latencyMs: performance.now() - t0,
        fallback: false,
        ...(failure !== undefined ? { error: { type: failure.type, message: failure.details } } : {}),
        request,
        requestBytes,
        response,
        responseBytes,
      });
      if (id !== undefined) {
        const md = new Metadata();
        md.set(EVENT_ID_HEADER, id);
        call.sendMetadata(md);
      }
    }
    if (answer !== undefined) cb(null, answer);
    else cb({ code: failure!.code, details: failure!.details });
  }
}
