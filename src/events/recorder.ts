import type { Registry } from "prom-client";
import type { Logger } from "../platform/log.js";
import type { EventConfig } from "./build.js";
import { EventLineWriter } from "./line.js";
import { createEventMetrics, type EventMetrics } from "./metrics.js";
import type { Variant } from "./schema.js";
import { Sender } from "./sender.js";
import { createSink, type Sink } from "./sink.js";
import { Spool, type SpoolMode } from "./spool.js";
import { VariantFile } from "./variant-file.js";

/** Where a process records its events: the spool, its sink and the variant this pod serves as. */
export interface RecorderConfig {
  sink: string;
  /** http(s) sinks: the bearer token file (the collector's Secret). */
  sinkTokenFile?: string;
  spoolDir: string;
  spoolMaxBytes: number;
  spoolSyncMs: number;
  /** When an event reaches the disk relative to its answer (see Spool). */
  spoolMode: SpoolMode;
  event: EventConfig;
  /** On shutdown, how long to keep shipping spooled events before leaving them on disk. */
  drainTimeoutMs: number;
  /** A file naming the pod's variant, re-read while running; event.variant while it is absent. */
  variantFile?: string;
}

/**
 * The event pipeline of one process, shared by serve (built-in pods record their own events) and the
 * logger sidecar (custom containers): spool -> sender -> sink, with the event metrics on `registry`.
 */
export class EventRecorder {
  readonly lineWriter: EventLineWriter;
  private readonly counted: {
    spooled: { inc(): void };
    dropped: { inc(): void };
    sampledOut: { inc(): void };
  };

  private constructor(
    readonly cfg: RecorderConfig,
    readonly spool: Spool,
    private readonly sink: Sink,
    private readonly sender: Sender,
    readonly metrics: EventMetrics,
    private readonly variantFile: VariantFile | undefined,
    private readonly log: Logger,
  ) {
    this.lineWriter = new EventLineWriter(cfg.event.features);
    this.counted = {
      spooled: metrics.events.labels("spooled"),
      dropped: metrics.events.labels("dropped"),
      sampledOut: metrics.events.labels("sampled_out"),
    };
  }

  /** Opens the spool (shipping what a previous run left first) and starts the sender. */
  static async start(cfg: RecorderConfig, log: Logger, registry: Registry): Promise<EventRecorder> {
    const metrics = createEventMetrics(registry);
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
    const variantFile =
      cfg.variantFile !== undefined ? new VariantFile(cfg.variantFile, cfg.event.variant, log) : undefined;
    await variantFile?.start();
    return new EventRecorder(cfg, spool, sink, sender, metrics, variantFile, log);
  }

  /** The variant this pod serves as now (the variants ConfigMap can change it while running). */
  get variant(): Variant {
    return this.variantFile?.current ?? this.cfg.event.variant;
  }

  get sinkName(): string {
    return this.sink.name;
  }

  /**
   * Appends one event line; false when it was dropped (spool full or failing), counted either way. In
   * fsync mode it resolves once the line is on disk (group commit), so the answer can wait for it.
   */
  record(line: string): boolean | Promise<boolean> {
    const ok = this.spool.append(line);
    if (!ok || this.spool.mode !== "fsync") {
      (ok ? this.counted.spooled : this.counted.dropped).inc();
      return ok;
    }
    return this.spool.commit().then((synced) => {
      (synced ? this.counted.spooled : this.counted.dropped).inc();
      return synced;
    });
  }

  /** Counts a success left out by --sample-rate. */
  sampledOut(): void {
    this.counted.sampledOut.inc();
  }

  /** Sets the spool gauges; call before rendering /metrics. */
  observe(now = Date.now()): void {
    this.metrics.spoolBytes.set(this.spool.bytes);
    this.metrics.spoolSegments.set(this.spool.segments);
    this.metrics.spoolAge.set(this.spool.oldestAgeSeconds(now));
  }

  /**
   * Ships what is spooled for up to drainTimeoutMs, then closes; what is left stays on disk for the next
   * start, counted in a log line and modelship_events_undrained.
   */
  async close(): Promise<void> {
    this.variantFile?.stop();
    const drained = await this.sender.drain(this.cfg.drainTimeoutMs);
    await this.sender.stop();
    // counted before close: close() seals the active segment, the count reads every segment left
    const left = drained ? 0 : await this.spool.pendingEvents();
    await this.spool.close();
    await this.sink.close();
    this.metrics.undrained.set(left);
    if (drained) this.log.info({ sink: this.sink.name }, "Drained event spool");
    else
      this.log.warn(
        {
          undrainedEvents: left,
          spoolBytes: this.spool.bytes,
          drainTimeoutMs: this.cfg.drainTimeoutMs,
          sink: this.sink.name,
        },
        "Left events in spool, sink did not take them before the drain deadline",
      );
  }
}
