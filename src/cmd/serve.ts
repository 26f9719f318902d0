import { ListenError } from "../platform/listen.js";
import { createLogger } from "../platform/log.js";
import { createRegistry } from "../platform/metrics.js";
import { onShutdown } from "../platform/shutdown.js";
import { checkUnique, parseModelFlag, scanModelDir, type ModelSpec } from "../runtime/model-spec.js";
import { parseModelFeatures } from "../runtime/model-features.js";
import { ModelLoadError } from "../runtime/pool.js";
import { EventRecorder } from "../events/recorder.js";
import { parseUpstream } from "../logger/config.js";
import { ServeEventLog } from "../runtime/event-log.js";
import { FallbackUpstream } from "../runtime/fallback.js";
import { ModelServer } from "../runtime/server.js";
import { boolFlag, intFlag, listFlag, stringFlag, UsageError, type Command } from "./command.js";
import { eventOptions, eventUsage, parseEventFlags, startMirror } from "./event-flags.js";

export const command: Command = {
  name: "serve",
  summary: "Serve ONNX models over the Open Inference Protocol v2 (the inference container)",
  usage: [
    "Usage: modelship serve (--model NAME=PATH[@VERSION]... | --model-dir DIR) [flags]",
    "",
    "Serves ONNX models with onnxruntime in worker threads. Protocol routes, /v2/health/{live,ready}",
    "and /metrics share one port; the OIP v2 gRPC service (proto/grpc_predict_v2.proto) has its own.",
    "",
    "  --model NAME=PATH[@VERSION]  a model to serve (repeatable; version defaults to 1)",
    "  --model-dir DIR              serve DIR/NAME.onnx and DIR/NAME/VERSION/*.onnx",
    "  --port N                     listen port (default 8081)",
    "  --host ADDR                  listen address (default 0.0.0.0)",
    "  --grpc-port N|off            gRPC (GRPCInferenceService) port, 0 = any free one (default 8085)",
    "  --workers N                  inference worker threads (default 1)",
    "  --intra-op-threads N         onnxruntime threads per worker, 0 = one per core (default 1)",
    "  --max-batch-size N           most rows per dynamic batch, 1 = no batching (default 32)",
    "  --max-queue-delay-ms N       wait up to N ms for batch-mates while a worker is free (default 0)",
    "  --max-queue N                requests queued per model before 503 + Retry-After (default 128)",
    "  --request-timeout-ms N       answer 504 after N ms, 0 = never (default 30000)",
    "  --max-body-bytes N           larger bodies get 413 (default 8388608)",
    "  --execution-provider P       cpu | cuda (default cpu)",
    "  --allow-cpu-fallback         with cuda: use the CPU when CUDA is unavailable instead of staying unready",
    "  --model-features NAME=JSON   the feature schema of model NAME's events (repeatable; --features for the rest)",
    "  --fallback-upstream URL      retry a request the local model failed (5xx, timeout, not ready) here once",
    '  --mirror-file PATH           shadow traffic: a file holding {"url":"http://host:port","percent":N}, re-read',
    "                               every 5 s; that share of HTTP inference requests is copied there after each answer",
    "  --mirror-max-inflight N      shadow copies in flight at once; more are skipped and counted (default 16)",
    "  --mirror-timeout-ms N        a shadow copy not answered by then is abandoned (default 5000)",
    "  --log-level L                trace | debug | info | warn | error (default info)",
    "",
    "Inference events (on with --sink): one InferenceEvent v1 per inference request, errors included,",
    "written by serve itself through the disk spool; POST /v2/feedback records ground truth.",
    ...eventUsage,
  ].join("\n"),
  options: {
    model: { type: "string", multiple: true },
    "model-dir": { type: "string" },
    port: { type: "string" },
    "grpc-port": { type: "string" },
    host: { type: "string" },
    workers: { type: "string" },
    "intra-op-threads": { type: "string" },
    "max-batch-size": { type: "string" },
    "max-queue-delay-ms": { type: "string" },
    "max-queue": { type: "string" },
    "request-timeout-ms": { type: "string" },
    "max-body-bytes": { type: "string" },
    "execution-provider": { type: "string" },
    "allow-cpu-fallback": { type: "boolean" },
    "log-level": { type: "string" },
    "fallback-upstream": { type: "string" },
    "model-features": { type: "string", multiple: true },
    ...eventOptions,
  },
  async run(args) {
    const specs: ModelSpec[] = [];
    try {
      for (const flag of listFlag(args, "model")) specs.push(parseModelFlag(flag));
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const dir = stringFlag(args, "model-dir");
    if (dir !== undefined) {
      try {
        specs.push(...scanModelDir(dir));
      } catch (err) {
        throw new UsageError(`--model-dir ${dir}: ${(err as Error).message}`);
      }
      if (specs.length === 0) throw new UsageError(`--model-dir ${dir} holds no .onnx files`);
    }
    if (specs.length === 0) throw new UsageError("give at least one --model NAME=PATH or a --model-dir");
    try {
      checkUnique(specs);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const provider = stringFlag(args, "execution-provider") ?? "cpu";
    if (provider !== "cpu" && provider !== "cuda") {
      throw new UsageError(`--execution-provider must be cpu or cuda, got "${provider}"`);
    }
    const port = intFlag(args, "port", 8081, 0);
    if (port > 65535) throw new UsageError(`--port must be <= 65535, got ${port}`);
    const grpcFlag = stringFlag(args, "grpc-port") ?? "8085";
    const grpcPort = grpcFlag === "off" ? undefined : /^\d{1,5}$/.test(grpcFlag) ? Number(grpcFlag) : NaN;
    if (grpcPort !== undefined && !(grpcPort <= 65535)) {
      throw new UsageError(`--grpc-port must be a port number (0 = any free one) or off, got "${grpcFlag}"`);
    }
    const log = createLogger({ name: "serve", level: (stringFlag(args, "log-level") ?? "info") as "info" });
    const requestTimeoutMs = intFlag(args, "request-timeout-ms", 30_000, 0);
    const host = stringFlag(args, "host") ?? "0.0.0.0";
    const maxBodyBytes = intFlag(args, "max-body-bytes", 8 * 1024 * 1024, 1);
    const registry = createRegistry("serve");
    const fb = stringFlag(args, "fallback-upstream");
    let fallback: FallbackUpstream | undefined;
    if (fb !== undefined) {
      let origin: string;
      try {
        origin = parseUpstream(fb, "fallback-upstream");
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      fallback = new FallbackUpstream(origin, requestTimeoutMs || 30_000, maxBodyBytes);
    }
    const mirror = await startMirror(args, registry, log);
    let modelFeatures;
    try {
      modelFeatures = parseModelFeatures(
        listFlag(args, "model-features"),
        specs.map((s) => s.name),
      );
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    let recorder: EventRecorder | undefined;
    if (stringFlag(args, "sink") !== undefined) {
      const first = specs[0]!;
      const cfg = parseEventFlags(args, first.name, first.version);
      try {
        recorder = await EventRecorder.start(cfg, log, registry);
      } catch (err) {
        const msg = (err as Error).message;
        if (msg.startsWith("--sink")) throw new UsageError(msg);
        log.error({ err }, "Failed to open the event spool");
        return 1;
      }
      log.info({ sink: recorder.sinkName, spoolDir: cfg.spoolDir, mode: cfg.spoolMode }, "Started event log");
    }
    const server = new ModelServer({
      models: specs,
      host,
      port,
      workers: intFlag(args, "workers", 1, 1),
      intraOpThreads: intFlag(args, "intra-op-threads", 1, 0),
      maxBatchSize: intFlag(args, "max-batch-size", 32, 1),
      maxQueueDelayMs: intFlag(args, "max-queue-delay-ms", 0, 0),
      maxQueue: intFlag(args, "max-queue", 128, 1),
      requestTimeoutMs,
      maxBodyBytes,
      executionProvider: provider,
      allowCpuFallback: boolFlag(args, "allow-cpu-fallback"),
      log,
      registry,
      ...(recorder !== undefined ? { events: new ServeEventLog(recorder, Math.random, modelFeatures) } : {}),
      ...(fallback !== undefined ? { fallback } : {}),
      ...(mirror !== undefined ? { mirror: mirror.mirror } : {}),
    });
    // after the server: its answers are what the events record, so they drain first
    const closeEdges = async () => {
      await mirror?.close();
      await fallback?.close();
      await recorder?.close();
    };
    const shutdown = onShutdown(log);
    try {
      await server.listen();
    } catch (err) {
      if (!(err instanceof ListenError)) throw err;
      // One line and no stack: the fix is another --port/--host or stopping whatever holds the port.
      process.stderr.write(`modelship serve: ${err.message}\n`);
      await closeEdges();
      return 1;
    }
    if (grpcPort !== undefined) {
      // Loaded only when asked for: --grpc-port off pays nothing for gRPC.
      const { GrpcInferenceServer, routeGrpcLogs } = await import("../runtime/grpc-server.js");
      routeGrpcLogs(log);
      const grpc = new GrpcInferenceServer(server, {
        host,
        port: grpcPort,
        maxMessageBytes: maxBodyBytes,
        log,
      });
      server.attach(grpc);
      try {
        await grpc.listen();
      } catch (err) {
        if (!(err instanceof ListenError)) throw err;
        process.stderr.write(`modelship serve: gRPC: ${err.message} (another --grpc-port, or off)\n`);
        await server.close();
        await closeEdges();
        return 1;
      }
    }
    try {
      await server.load();
    } catch (err) {
      if (err instanceof ModelLoadError && err.unavailableProvider) {
        // No silent CPU fallback: stay up and unready so the pod shows why, until someone fixes the image or flags.
        const reason =
          `model ${err.key}: the CUDA execution provider is not available (${err.message.split("\n")[0]}). ` +
          "Build the image with ONNXRUNTIME_NODE_INSTALL=cuda12 on a CUDA 12 base, or pass --allow-cpu-fallback.";
        log.error({ model: err.key }, reason);
        server.refuseReadiness(reason);
      } else {
        const model = err instanceof ModelLoadError ? err.key : undefined;
        log.error({ model, err }, "Failed to load model");
        process.stderr.write(
          `modelship serve: failed to load model ${model ?? ""}: ${(err as Error).message}\n`,
        );
        await server.close();
        await closeEdges();
        return 1;
      }
    }
    await shutdown.done;
    await server.shutdown(requestTimeoutMs + 5_000);
    await closeEdges();
    return 0;
  },
};
