// The collector's consumer mode: reads inference events from a Kafka topic as a member of a consumer
// group, so collectors scale out (each stores the partitions it is assigned), and stores them with the
// collector's own store.
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { Consumer, Message, MessagesStream } from "@platformatic/kafka";
import { backoffMs } from "../events/sender.js";
import { describeKafkaError, kafkaConnectionOptions, type KafkaSecurity } from "../events/kafka-client.js";
import type { Logger } from "../platform/log.js";
import { partitionLags } from "./kafka-lag.js";
import type { EventStore, IngestResult } from "./store.js";

export interface KafkaConsumerConfig {
  brokers: string[];
  topic: string;
  group: string;
  clientId: string;
  /** Static membership: a restarted member with the same id takes its partitions back without a rebalance. */
  groupInstanceId?: string;
  /** A member silent this long is dropped from the group and its partitions go to the others. */
  sessionTimeoutMs: number;
  /** The most events stored (and fsynced) in one batch before the offsets are committed. */
  batchMaxEvents: number;
  /** Most bytes one fetch asks for (a single record larger than this still comes through). */
  fetchMaxBytes: number;
  security: KafkaSecurity;
}

export const defaultKafkaConsumer = {
  group: "modelship-collector",
  sessionTimeoutMs: 30_000,
  batchMaxEvents: 500,
  fetchMaxBytes: 8 * 1024 * 1024,
};

/** The parts of the store the consumer uses. */
export type EventSink = Pick<EventStore, "ingest">;

export interface KafkaConsumerTimings {
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** How long a fetch waits at the broker for new records. */
  maxWaitMs?: number;
  /** How often the consumer lag is read from the brokers (and at every rebalance). */
  lagIntervalMs?: number;
}

/** ListOffsetTimestamps.EARLIEST, written here so that importing this file does not load the client. */
const EARLIEST = -2n;

function createKafkaMetrics(registry: Registry) {
  const registers = [registry];
  return {
    events: new Counter({
      name: "modelship_collector_kafka_events_total",
      help: "Events read from Kafka, by result: stored, duplicate, invalid or expired.",
      labelNames: ["result"] as const,
      registers,
    }),
    commits: new Counter({
      name: "modelship_collector_kafka_commits_total",
      help: "Offset commits after a stored batch, by result: ok or error (an error is covered by a later commit).",
      labelNames: ["result"] as const,
      registers,
    }),
    sessions: new Counter({
      name: "modelship_collector_kafka_sessions_total",
      help: "Kafka consumer sessions started: the first, then one after every lost connection or failed store.",
      registers,
    }),
    failures: new Counter({
      name: "modelship_collector_kafka_session_failures_total",
      help: "Kafka consumer sessions ended by an error; the next one resumes from the committed offsets.",
      registers,
    }),
    assigned: new Gauge({
      name: "modelship_collector_kafka_assigned_partitions",
      help: "Partitions of the topic this collector is assigned in its consumer group.",
      registers,
    }),
    lag: new Gauge({
      name: "modelship_collector_kafka_lag_messages",
      help: "Records of an assigned partition not yet stored and committed: its end offset minus the group's committed offset, read every 10 s.",
      labelNames: ["topic", "partition"] as const,
      registers,
    }),
    batchDuration: new Histogram({
      name: "modelship_collector_kafka_batch_duration_seconds",
      help: "Time to validate, de-duplicate, durably store and commit one batch read from Kafka.",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers,
    }),
  };
}

type Stream = MessagesStream<Buffer, Buffer, Buffer, Buffer>;

/**
 * Consumes the topic in a loop of sessions. In each, a batch read from the stream is stored (the store
 * fsyncs before ingest() resolves) and only then are its offsets committed: a crash at any point
 * re-reads from the last commit, never past an event that is not on disk (at-least-once). The store
 * drops the re-read copies by event id. A rebalance needs no hook: a partition that moves is read by
 * its new owner from the committed offset, which never passes an unstored event; a batch already read
 * from a revoked partition is still stored (a copy at most, in the other collector's store), but its
 * offsets are not committed. A lost connection or a failed store ends the session; the next one starts,
 * with backoff, from the committed offsets.
 */
export class KafkaEventConsumer {
  private readonly metrics: ReturnType<typeof createKafkaMetrics>;
  private stopping = false;
  private running: Promise<void> | undefined;
  private signalled = false;
  private waiter: (() => void) | undefined;
  /** Per partition, the offset last committed in this group generation (commits never go backwards). */
  private committed = new Map<number, bigint>();
  private partitions: number[] = [];
  /** The consumer of the session in progress. */
  private current: Consumer | undefined;
  private lagInFlight = false;

  constructor(
    private readonly cfg: KafkaConsumerConfig,
    private readonly store: EventSink,
    registry: Registry,
    private readonly log: Logger,
    private readonly timings: KafkaConsumerTimings = {},
  ) {
    this.metrics = createKafkaMetrics(registry);
  }

  /** The partitions assigned to this member now. */
  get assignedPartitions(): readonly number[] {
    return this.partitions;
  }

  start(): void {
    if (this.running) return;
    const { brokers, topic, group, groupInstanceId } = this.cfg;
    this.log.info(
      {
        brokers,
        topic,
        group,
        groupInstanceId,
        tls: this.cfg.security.tls !== undefined,
        sasl: this.cfg.security.sasl?.mechanism,
      },
      "Started Kafka consumer",
    );
    this.running = this.loop();
  }

  /**
   * Finishes the batch in hand (stored and committed), leaves the group and stops. A session still
   * joining the group (a rebalance can wait for a dead member) is closed after graceMs.
   */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    this.wake();
    const timer = new Promise<"late">((r) => setTimeout(() => r("late"), graceMs).unref());
    if ((await Promise.race([this.running, timer])) === "late" && this.current)
      await closeQuietly(this.current, this.log);
    await this.running;
  }

  private wake(): void {
    this.signalled = true;
    this.waiter?.();
  }

  /** Waits for the stream to have records (or a stop, or an error), at most ms. */
  private async waitForWake(ms: number): Promise<void> {
    if (!this.signalled) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t);
          this.waiter = undefined;
          resolve();
        };
        const t = setTimeout(done, ms);
        this.waiter = done;
      });
    }
    this.signalled = false;
  }

  private async loop(): Promise<void> {
    const initial = this.timings.backoffInitialMs ?? 500;
    const max = this.timings.backoffMaxMs ?? 30_000;
    let failures = 0;
    while (!this.stopping) {
      this.metrics.sessions.inc();
      try {
        const progressed = await this.session();
        if (progressed) failures = 0;
      } catch (err) {
        this.metrics.failures.inc();
        this.log.warn(
          { err: describeKafkaError(err, this.cfg.topic), topic: this.cfg.topic, group: this.cfg.group },
          "Lost Kafka consumer session, resuming from the committed offsets",
        );
        await this.sleep(backoffMs(failures++, initial, max, Math.random));
      }
    }
    this.metrics.assigned.set(0);
    this.metrics.lag.reset();
    this.log.info({ topic: this.cfg.topic, group: this.cfg.group }, "Stopped Kafka consumer");
  }

  private async sleep(ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (!this.stopping && Date.now() < end) await this.waitForWake(end - Date.now());
  }

  /** One consumer-group membership; resolves on stop, throws on a failure. True when it stored a batch. */
  private async session(): Promise<boolean> {
    const { Consumer } = await import("@platformatic/kafka");
    const sessionTimeout = this.cfg.sessionTimeoutMs;
    const consumer: Consumer = new Consumer({
      clientId: this.cfg.clientId,
      groupId: this.cfg.group,
      bootstrapBrokers: this.cfg.brokers,
      ...(this.cfg.groupInstanceId !== undefined ? { groupInstanceId: this.cfg.groupInstanceId } : {}),
      ...kafkaConnectionOptions(this.cfg.security),
      autocommit: false,
      sessionTimeout,
      heartbeatInterval: Math.max(100, Math.min(3_000, Math.floor(sessionTimeout / 3))),
      rebalanceTimeout: sessionTimeout,
      maxWaitTime: this.timings.maxWaitMs ?? 1_000,
      maxBytes: this.cfg.fetchMaxBytes,
      // bounds what waits in memory: this many records plus the fetch that filled it
      highWaterMark: this.cfg.batchMaxEvents,
      retries: 3,
      retryDelay: 500,
      connectTimeout: 10_000,
    });
    this.current = consumer;
    let failure: unknown;
    const fail = (err: unknown) => {
      failure ??= err;
      this.wake();
    };
    consumer.on("error", fail);
    consumer.on("consumer:group:join", (p) => {
      this.partitions = (p.assignments ?? [])
        .filter((a) => a.topic === this.cfg.topic)
        .flatMap((a) => a.partitions)
        .sort((a, b) => a - b);
      this.committed = new Map();
      this.metrics.assigned.set(this.partitions.length);
      // a revoked partition's lag is its new owner's to report
      this.metrics.lag.reset();
      void this.refreshLag(consumer);
      this.log.info(
        {
          group: this.cfg.group,
          topic: this.cfg.topic,
          generation: p.generationId,
          partitions: this.partitions,
        },
        "Joined Kafka consumer group",
      );
    });
    let stream: Stream | undefined;
    let progressed = false;
    let lagTimer: NodeJS.Timeout | undefined;
    try {
      stream = await consumer.consume({
        topics: [this.cfg.topic],
        mode: "committed",
        // a new group reads the topic from its start: nothing retained is skipped
        fallbackMode: "earliest",
        autocommit: false,
      });
      stream.on("error", fail);
      stream.on("close", () => fail(new Error("the Kafka message stream closed")));
      stream.on("readable", () => this.wake());
      lagTimer = setInterval(() => void this.refreshLag(consumer), this.timings.lagIntervalMs ?? 10_000);
      lagTimer.unref();
      while (!this.stopping && failure === undefined) {
        this.signalled = false;
        const batch: Message<Buffer, Buffer, Buffer, Buffer>[] = [];
        for (let m; batch.length < this.cfg.batchMaxEvents && (m = stream.read() as typeof m | null);)
          batch.push(m as Message<Buffer, Buffer, Buffer, Buffer>);
        if (batch.length === 0) {
          await this.waitForWake(1_000);
          continue;
        }
        await this.handle(consumer, batch);
        progressed = true;
      }
    } finally {
      clearInterval(lagTimer);
      this.metrics.assigned.set(0);
      this.metrics.lag.reset();
      this.partitions = [];
      stream?.removeAllListeners("close");
      await closeQuietly(consumer, this.log);
      this.current = undefined;
    }
    if (failure !== undefined && !this.stopping) throw failure;
    return progressed;
  }

  /**
   * Reads the assigned partitions' end, start and committed offsets from the brokers (two ListOffsets
   * and one OffsetFetch) and sets the lag gauge from them. A failure keeps the last values: the next
   * tick tries again, and a lost connection ends the session (and the gauge) anyway.
   */
  private async refreshLag(consumer: Consumer): Promise<void> {
    const { topic } = this.cfg;
    const partitions = [...this.partitions];
    if (this.lagInFlight || partitions.length === 0) return;
    this.lagInFlight = true;
    try {
      const only = { topics: [topic], partitions: { [topic]: partitions } };
      const [end, start, committed] = await Promise.all([
        consumer.listOffsets(only),
        consumer.listOffsets({ ...only, timestamp: EARLIEST }),
        consumer.listCommittedOffsets({ topics: [{ topic, partitions }] }),
      ]);
      // a session that ended while the brokers answered: the next one reports its own
      if (consumer !== this.current) return;
      // the partitions assigned now: one revoked meanwhile is left out, one added waits for the next read
      const lags = partitionLags(this.partitions, {
        end: end.get(topic) ?? [],
        start: start.get(topic) ?? [],
        committed: committed.get(topic) ?? [],
      });
      this.metrics.lag.reset();
      for (const [partition, lag] of lags) this.metrics.lag.set({ topic, partition: String(partition) }, lag);
    } catch (err) {
      if (consumer === this.current && !this.stopping)
        this.log.warn(
          { err: describeKafkaError(err, topic), topic, group: this.cfg.group },
          "Failed to read Kafka consumer lag",
        );
    } finally {
      this.lagInFlight = false;
    }
  }

  /** Stores a batch (durably), then commits the offsets after it for the partitions still ours. */
  private async handle(consumer: Consumer, batch: Message<Buffer, Buffer, Buffer, Buffer>[]): Promise<void> {
    const end = this.metrics.batchDuration.startTimer();
    const lines: string[] = [];
    const next = new Map<number, bigint>();
    for (const m of batch) {
      // one event per record from the kafka:// sink; another producer may batch NDJSON
      const text = m.value === undefined || m.value === null ? "" : m.value.toString("utf8");
      const parts = text.split("\n").filter((l) => l.trim() !== "");
      // an empty record is counted invalid, not skipped silently
      lines.push(...(parts.length > 0 ? parts : [text]));
      next.set(m.partition, m.offset + 1n);
    }
    // a failure here ends the session before any commit: the batch is read again
    const r = await this.store.ingest(lines);
    this.count(r);
    await this.commit(consumer, next);
    end();
  }

  private count(r: IngestResult): void {
    this.metrics.events.inc({ result: "stored" }, r.accepted);
    this.metrics.events.inc({ result: "duplicate" }, r.duplicates);
    this.metrics.events.inc({ result: "invalid" }, r.invalid);
    this.metrics.events.inc({ result: "expired" }, r.expired);
    if (r.invalid > 0)
      this.log.warn(
        { invalid: r.invalid, errors: r.errors, topic: this.cfg.topic },
        "Skipped invalid events from Kafka",
      );
  }

  private async commit(consumer: Consumer, next: Map<number, bigint>): Promise<void> {
    const ours = new Set(this.partitions);
    const offsets = [...next]
      .filter(([p, offset]) => ours.has(p) && offset > (this.committed.get(p) ?? -1n))
      .map(([partition, offset]) => ({ topic: this.cfg.topic, partition, offset, leaderEpoch: -1 }));
    if (offsets.length === 0) return;
    try {
      await consumer.commit({ offsets });
      for (const o of offsets) this.committed.set(o.partition, o.offset);
      this.metrics.commits.inc({ result: "ok" });
    } catch (err) {
      // the events are on disk: a later commit covers them, or they are read again and de-duplicated
      this.metrics.commits.inc({ result: "error" });
      this.log.warn(
        { err: describeKafkaError(err, this.cfg.topic), partitions: offsets.map((o) => o.partition) },
        "Failed to commit Kafka offsets after storing a batch",
      );
    }
  }
}

/** Leaves the group and closes the connections; a broker that is away cannot stop the close. */
async function closeQuietly(consumer: Consumer, log: Logger): Promise<void> {
  const timeout = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 5_000).unref());
  // close(force) without a callback returns a promise; the typings pick the callback overload
  const closed = (consumer.close(true) as unknown as Promise<void>).then(
    () => "ok" as const,
    (err: unknown) => err,
  );
  const r = await Promise.race([closed, timeout]);
  if (r !== "ok")
    log.debug({ err: r === "timeout" ? "timed out" : String(r) }, "Closed Kafka consumer uncleanly");
}
