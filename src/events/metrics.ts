import { Counter, Gauge, type Registry } from "prom-client";

/**
 * The event pipeline's metrics (spool and sink), registered on the registry it is given. The same names
 * come from every writer of events: serve (built-in pods) and the logger sidecar (custom containers).
 */
export function createEventMetrics(registry: Registry) {
  const registers = [registry];
  return {
    events: new Counter({
      name: "modelship_events_total",
      help: "Inference events by result: spooled, sampled_out or dropped.",
      labelNames: ["result"] as const,
      registers,
    }),
    drops: new Counter({
      name: "modelship_events_dropped_total",
      help: "Events dropped because the spool was full or failing (requests were still served).",
      labelNames: ["reason"] as const,
      registers,
    }),
    sinkEvents: new Counter({
      name: "modelship_events_shipped_total",
      help: "Events sent to the sink, by sink and result (ok, error, rejected).",
      labelNames: ["sink", "result"] as const,
      registers,
    }),
    sinkRetries: new Counter({
      name: "modelship_events_sink_retries_total",
      help: "Batches retried after a sink failure.",
      labelNames: ["sink"] as const,
      registers,
    }),
    spoolBytes: new Gauge({
      name: "modelship_events_spool_bytes",
      help: "Bytes held in the disk spool (segments and unsynced buffer).",
      registers,
    }),
    spoolSegments: new Gauge({
      name: "modelship_events_spool_segments",
      help: "Spool segment files.",
      registers,
    }),
    undrained: new Gauge({
      name: "modelship_events_undrained",
      help: "Events left in the spool at shutdown because the sink did not take them within --drain-timeout-ms.",
      registers,
    }),
    spoolAge: new Gauge({
      name: "modelship_events_spool_oldest_age_seconds",
      help: "Age of the oldest event not yet acknowledged by the sink.",
      registers,
    }),
  };
}

export type EventMetrics = ReturnType<typeof createEventMetrics>;
