// Payload retention: every interval, the partitions whose hour ended more than the retention period
// ago are deleted whole (the store is partitioned by model, date and hour, so nothing is rewritten).
import { Counter, Gauge, type Registry } from "prom-client";
import type { Logger } from "../platform/log.js";
import type { EventStore } from "./store.js";

export class Retention {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly segments: Counter;
  private readonly partitions: Counter;
  private readonly lastRun: Gauge;

  constructor(
    private readonly store: EventStore,
    private readonly intervalMs: number,
    registry: Registry,
    private readonly log: Logger,
  ) {
    const registers = [registry];
    this.segments = new Counter({
      name: "modelship_collector_retention_deleted_segments_total",
      help: "Segment files deleted because their partition was older than --retention-days.",
      registers,
    });
    this.partitions = new Counter({
      name: "modelship_collector_retention_deleted_partitions_total",
      help: "Hour partitions deleted because they were older than --retention-days.",
      registers,
    });
    this.lastRun = new Gauge({
      name: "modelship_collector_retention_last_run_timestamp_seconds",
      help: "When the last retention pass finished (successfully or not).",
      registers,
    });
  }

  /** Runs a pass now, then every interval. */
  start(): void {
    void this.runOnce();
    this.timer = setInterval(() => void this.runOnce(), this.intervalMs);
    this.timer.unref();
  }

  /** One pass; a pass still running is awaited instead of starting another. */
  runOnce(): Promise<void> {
    this.running ??= this.pass().finally(() => (this.running = undefined));
    return this.running;
  }

  private async pass(): Promise<void> {
    try {
      const r = await this.store.deleteExpired();
      this.segments.inc(r.segments);
      this.partitions.inc(r.partitions);
      if (r.partitions > 0) this.log.info(r, "Deleted expired partitions");
    } catch (err) {
      this.log.error({ err }, "Failed to delete expired partitions");
    } finally {
      this.lastRun.setToCurrentTime();
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}
