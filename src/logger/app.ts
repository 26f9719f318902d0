import type { Registry } from "prom-client";
import type { Logger } from "../platform/log.js";
import type { EventConfig } from "../events/build.js";
import { createEventMetrics } from "../events/metrics.js";
import { createLoggerMetrics } from "./metrics.js";
import { LoggerProxy, type UpstreamReadiness } from "./proxy.js";
import { fullGc, Reclaimer } from "./reclaim.js";
import { Sender } from "../events/sender.js";
import { createSink } from "../events/sink.js";
import { Spool, type SpoolMode } from "../events/spool.js";
import { VariantFile } from "../events/variant-file.js";

export interface LoggerConfig {
  host: string;
  port: number;
  upstream: string;
  fallbackUpstream?: string;
  upstreamTimeoutMs: number;
  sink: string;
  /** http(s) sinks: the file holding the bearer token (see createSink). */
  sinkTokenFile?: string;
  spoolDir: string;
  spoolMaxBytes: number;
  spoolSyncMs: number;
  /** When an event reaches the disk relative to its answer (see Spool). */
  spoolMode: SpoolMode;
  event: EventConfig;
  /** On shutdown, how long to keep shipping spooled events before leaving them on disk. */
  drainTimeoutMs: number;
  /** Largest request or response body proxied (413 / 502 beyond); the proxy's default when absent. */
  maxBodyBytes?: number;
  /** All bodies held in memory at once (503 beyond); the proxy's default when absent. */
  maxInflightBodyBytes?: number;
  /** How /readyz checks the model server; the proxy's default (GET /v2/health/ready) when absent. */
  upstreamReadiness?: UpstreamReadiness;
  /** A file naming the pod's variant, re-read while running; event.variant while it is absent. */
  variantFile?: string;
}

export interface RunningLogger {
  url: string;
  spool: Spool;
  close(): Promise<void>;
}

/** Opens the spool, starts the sender and the proxy; close() drains in order: requests, spool, sink. */
export async function startLogger(
  cfg: LoggerConfig,
  log: Logger,
  registry: Registry,
): Promise<RunningLogger> {
  const metrics = { ...createLoggerMetrics(registry), ...createEventMetrics(registry) };
  const sink = createSink(
    cfg.sink,
    log,
    cfg.sinkTokenFile !== undefined ? { tokenFile: cfg.sinkTokenFile } : {},
  );
  const spool = await Spool.open({
    dir: cfg.spoolDir,
    maxBytes: cfg.spoolMaxBytes,
    syncIntervalMs: cfg.spoolSyncMs,
    mode: cfg.spoolMode,
    log,
    onDrop: (reason) => metrics.drops.inc({ reason }),
  });
  const sender = new Sender(spool, sink, log, metrics);
  sender.start();
  const variant =
    cfg.variantFile !== undefined ? new VariantFile(cfg.variantFile, cfg.event.variant, log) : undefined;
  await variant?.start();
  const proxy = new LoggerProxy({
    upstream: cfg.upstream,
    ...(cfg.fallbackUpstream !== undefined ? { fallbackUpstream: cfg.fallbackUpstream } : {}),
    upstreamTimeoutMs: cfg.upstreamTimeoutMs,
    ...(cfg.maxBodyBytes !== undefined ? { maxBodyBytes: cfg.maxBodyBytes } : {}),
    ...(cfg.maxInflightBodyBytes !== undefined ? { maxInflightBodyBytes: cfg.maxInflightBodyBytes } : {}),
    ...(cfg.upstreamReadiness !== undefined ? { upstreamReadiness: cfg.upstreamReadiness } : {}),
    ...(variant !== undefined ? { variant } : {}),
    event: cfg.event,
    spool,
    reclaimer: new Reclaimer(fullGc),
    registry,
    metrics,
    log,
  });
  const url = await proxy.listen(cfg.port, cfg.host);
  log.info(
    {
      url,
      upstream: cfg.upstream,
      sink: sink.name,
      spoolDir: cfg.spoolDir,
      spoolMode: cfg.spoolMode,
      model: cfg.event.model,
      variant: variant?.current ?? cfg.event.variant,
    },
    "Started inference logger",
  );
  return {
    url,
    spool,
    async close() {
      variant?.stop();
      await proxy.close();
      const drained = await sender.drain(cfg.drainTimeoutMs);
      await sender.stop();
      // counted before close: close() seals the active segment, the count reads every segment left
      const left = drained ? 0 : await spool.pendingEvents();
      await spool.close();
      await sink.close();
      metrics.undrained.set(left);
      if (drained) log.info({ sink: sink.name }, "Drained event spool");
      else
        log.warn(
          {
            undrainedEvents: left,
            spoolBytes: spool.bytes,
            drainTimeoutMs: cfg.drainTimeoutMs,
            sink: sink.name,
          },
          "Left events in spool, sink did not take them before the drain deadline",
        );
    },
  };
}
