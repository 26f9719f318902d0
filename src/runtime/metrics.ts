// The model server's Prometheus metrics, registered on the server's own Registry.
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];

export interface RuntimeMetrics {
  requests: Counter<"model" | "version" | "protocol" | "code">;
  requestSeconds: Histogram<"model" | "version">;
  queueSeconds: Histogram<"model" | "version">;
  computeSeconds: Histogram<"model" | "version">;
  batchSize: Histogram<"model" | "version">;
  queueDepth: Gauge<"model" | "version">;
  inFlight: Gauge<"model" | "version">;
  loadSeconds: Gauge<"model" | "version">;
  modelReady: Gauge<"model" | "version">;
  fallbacks: Counter<"reason">;
}

export function createRuntimeMetrics(registry: Registry): RuntimeMetrics {
  const registers = [registry];
  return {
    requests: new Counter({
      name: "modelship_inference_requests_total",
      help: "Inference requests answered, by model, version, protocol (v1|v2|grpc) and HTTP status code (for gRPC, the one the same outcome gets over HTTP).",
      labelNames: ["model", "version", "protocol", "code"],
      registers,
    }),
    requestSeconds: new Histogram({
      name: "modelship_inference_request_duration_seconds",
      help: "Whole request time: body read, decode, queue, inference, encode.",
      labelNames: ["model", "version"],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    queueSeconds: new Histogram({
      name: "modelship_inference_queue_duration_seconds",
      help: "Time a request waited in its model's queue before its batch started.",
      labelNames: ["model", "version"],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    computeSeconds: new Histogram({
      name: "modelship_inference_compute_duration_seconds",
      help: "onnxruntime session.run time of the batch a request ran in.",
      labelNames: ["model", "version"],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    batchSize: new Histogram({
      name: "modelship_inference_batch_size",
      help: "Rows per executed batch.",
      labelNames: ["model", "version"],
      buckets: BATCH_BUCKETS,
      registers,
    }),
    queueDepth: new Gauge({
      name: "modelship_inference_queue_depth",
      help: "Requests waiting in the model's queue.",
      labelNames: ["model", "version"],
      registers,
    }),
    inFlight: new Gauge({
      name: "modelship_inference_in_flight",
      help: "Inference requests accepted and not yet answered.",
      labelNames: ["model", "version"],
      registers,
    }),
    loadSeconds: new Gauge({
      name: "modelship_model_load_duration_seconds",
      help: "Time to create the onnxruntime session (first worker).",
      labelNames: ["model", "version"],
      registers,
    }),
    modelReady: new Gauge({
      name: "modelship_model_ready",
      help: "1 once the model is loaded and warmed up, else 0.",
      labelNames: ["model", "version"],
      registers,
    }),
    fallbacks: new Counter({
      name: "modelship_fallback_total",
      help: "Requests the local model failed and --fallback-upstream answered, by why (5xx, timeout, unavailable).",
      labelNames: ["reason"],
      registers,
    }),
  };
}
