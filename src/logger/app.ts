import type { Mirror } from "../runtime/mirror.js";
import type { Registry } from "prom-client";
import type { Logger } from "../platform/log.js";
import { EventRecorder, type RecorderConfig } from "../events/recorder.js";
import { createLoggerMetrics } from "./metrics.js";
import { LoggerProxy, type UpstreamReadiness } from "./proxy.js";
import { fullGc, Reclaimer } from "./reclaim.js";
import type { Spool } from "../events/spool.js";

/** The proxy's settings on top of how events are recorded (shared with serve: RecorderConfig). */
export interface LoggerConfig extends RecorderConfig {
  host: string;
  port: number;
  upstream: string;
  fallbackUpstream?: string;
  upstreamTimeoutMs: number;
  /** Largest request or response body proxied (413 / 502 beyond); the proxy's default when absent. */
  maxBodyBytes?: number;
  /** All bodies held in memory at once (503 beyond); the proxy's default when absent. */
  maxInflightBodyBytes?: number;
  /** How /readyz checks the model server; the proxy's default (GET /v2/health/ready) when absent. */
  upstreamReadiness?: UpstreamReadiness;
  /** Shadow traffic: copies a share of inference requests after each answer (runtime/mirror.ts). */
  mirror?: Mirror;
}

export interface RunningLogger {
  url: string;
  spool: Spool;
  close(): Promise<void>;
}

/** Starts the event recorder and the proxy; close() drains in order: requests, then the recorder. */
export async function startLogger(
  cfg: LoggerConfig,
  log: Logger,
  registry: Registry,
): Promise<RunningLogger> {
  const recorder = await EventRecorder.start(cfg, log, registry);
  const metrics = { ...createLoggerMetrics(registry), ...recorder.metrics };
  const spool = recorder.spool;
  const proxy = new LoggerProxy({
    upstream: cfg.upstream,
    ...(cfg.fallbackUpstream !== undefined ? { fallbackUpstream: cfg.fallbackUpstream } : {}),
    upstreamTimeoutMs: cfg.upstreamTimeoutMs,
    ...(cfg.maxBodyBytes !== undefined ? { maxBodyBytes: cfg.maxBodyBytes } : {}),
    ...(cfg.maxInflightBodyBytes !== undefined ? { maxInflightBodyBytes: cfg.maxInflightBodyBytes } : {}),
    ...(cfg.upstreamReadiness !== undefined ? { upstreamReadiness: cfg.upstreamReadiness } : {}),
    ...(cfg.mirror !== undefined ? { mirror: cfg.mirror } : {}),
    variant: {
      get current() {
        return recorder.variant;
      },
    },
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
      sink: recorder.sinkName,
      spoolDir: cfg.spoolDir,
      spoolMode: cfg.spoolMode,
      model: cfg.event.model,
      variant: recorder.variant,
    },
    "Started inference logger",
  );
  return {
    url,
    spool,
    async close() {
      await proxy.close();
      await recorder.close();
    },
  };
}
