import { Counter, Gauge, Histogram, type Registry } from "prom-client";

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The logger's metrics, registered on the registry it is given (one per server). */
export function createLoggerMetrics(registry: Registry) {
  const registers = [registry];
  return {
    requests: new Counter({
      name: "modelship_logger_requests_total",
      help: "Requests proxied, by kind (infer, other, feedback) and HTTP status code.",
      labelNames: ["kind", "code"] as const,
      registers,
    }),
    inFlight: new Gauge({
      name: "modelship_logger_requests_in_flight",
      help: "Requests being proxied (received, not yet answered), by kind (infer, other): what autoscaling reads for custom containers.",
      labelNames: ["kind"] as const,
      registers,
    }),
    fallbacks: new Counter({
      name: "modelship_fallback_total",
      help: "Requests retried on --fallback-upstream, by why the local model failed (5xx, unreachable, timeout).",
      labelNames: ["reason"] as const,
      registers,
    }),
    duration: new Histogram({
      name: "modelship_logger_request_duration_seconds",
      help: "Time from request to response through the logger, by kind.",
      labelNames: ["kind"] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    refused: new Counter({
      name: "modelship_logger_refused_total",
      help: "Requests the logger answered itself without proxying, by reason: body_too_large and body_chunks (413), body_budget (503), malformed_request (400), header_too_large (431), request_timeout (408).",
      labelNames: ["reason"] as const,
      registers,
    }),
    bodyBytes: new Gauge({
      name: "modelship_logger_inflight_body_bytes",
      help: "Bytes of request and response bodies held in memory now (bounded by --max-inflight-body-bytes).",
      registers,
    }),
    overhead: new Histogram({
      name: "modelship_logger_proxy_overhead_seconds",
      help: "Time the logger added on top of the upstream's own time.",
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1],
      registers,
    }),
  };
}

export type LoggerMetrics = ReturnType<typeof createLoggerMetrics>;
