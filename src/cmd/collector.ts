import { createLogger } from "../platform/log.js";
import { createRegistry } from "../platform/metrics.js";
import { onShutdown } from "../platform/shutdown.js";
import { TokenFile } from "../collector/auth.js";
import { Retention } from "../collector/retention.js";
import { CollectorServer, defaultLimits } from "../collector/server.js";
import { KEEP_REPORTS, ReportStore } from "../collector/reports.js";
import { EventStore, type IngestResult } from "../collector/store.js";
import { ReviewQueue } from "../collector/review-queue.js";
import { CollectorArchive } from "../collector/archive.js";
import { archiveConfig, archiveOptions, archiveUsage } from "./archive-flags.js";
import { KafkaEventConsumer } from "../collector/kafka-consumer.js";
import { kafkaConsumerConfig, kafkaOptions, kafkaUsage } from "./kafka-flags.js";
import { parseListen } from "../platform/listen.js";
import { UsageError, boolFlag, intFlag, requiredFlag, stringFlag, type Command } from "./command.js";

const usage = `Usage: modelship collector --data-dir DIR [flags]

The embedded inference event store: receives batches from loggers, de-duplicates by event id, writes
DIR/<model>/<YYYY-MM-DD>/<HH>/*.ndjson[.gz] durably, and streams events back for a model and window.

Flags:
  --listen HOST:PORT          where to listen (default 0.0.0.0:9090)
  --data-dir DIR              where events are stored (required; a PVC in a cluster)
  --gzip                      compress rotated segments
  --segment-max-bytes N       rotate a partition's segment at this size (default 67108864)
  --segment-max-age-ms N      rotate a partition's segment at this age (default 900000)
  --dedupe-partitions N       partitions whose event ids stay in memory (default 48)
  --token-file PATH           bearer tokens (one a line) every API request must carry; re-read every 10 s.
                              Without it the API is open. /metrics /healthz /readyz never need one
  --max-request-bytes N       largest request body, 413 beyond (default 16777216)
  --max-event-bytes N         largest event in a batch; a larger one is left out and counted (default 4194304)
  --max-concurrent-requests N API requests handled at once, 503 + Retry-After beyond (default 8)
  --retention-days N          delete hour partitions older than N days (default 0: keep everything)
  --retention-interval-ms N   how often retention runs (default 600000)
  --review-max-items N        items kept in each model's human review queue (default 1000; docs/review.md)
  --log-level LEVEL           debug | info | warn | error (default info)

Routes: POST /v1/events (NDJSON or JSON array), GET /v1/events?model=NAME&since=RFC3339&until=RFC3339[&type=inference|feedback],
GET /v1/models, the review queue (GET /v1/review/NAME, POST /v1/review/NAME/claim, POST
/v1/review/NAME/EVENT_ID/label|release; kept in DIR/@review), drift reports (POST /v1/reports, GET /v1/reports/NAME[/ID|/latest]; kept in DIR/@reports,
the newest 200 per model), /metrics, /healthz, /readyz.

${kafkaUsage.join("\n")}

${archiveUsage.join("\n")}`;

export const command: Command = {
  name: "collector",
  summary: "Inference event store (dedupe, export)",
  usage,
  options: {
    listen: { type: "string" },
    "data-dir": { type: "string" },
    gzip: { type: "boolean" },
    "segment-max-bytes": { type: "string" },
    "segment-max-age-ms": { type: "string" },
    "dedupe-partitions": { type: "string" },
    "token-file": { type: "string" },
    "max-request-bytes": { type: "string" },
    "max-event-bytes": { type: "string" },
    "max-concurrent-requests": { type: "string" },
    "retention-days": { type: "string" },
    "retention-interval-ms": { type: "string" },
    "review-max-items": { type: "string" },
    "log-level": { type: "string" },
    ...kafkaOptions,
    ...archiveOptions,
  },
  async run(args) {
    let listen;
    try {
      listen = parseListen(stringFlag(args, "listen") ?? "0.0.0.0:9090", "listen");
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const dir = requiredFlag(args, "data-dir");
    const limits = {
      maxRequestBytes: intFlag(args, "max-request-bytes", defaultLimits.maxRequestBytes, 1024),
      maxEventBytes: intFlag(args, "max-event-bytes", defaultLimits.maxEventBytes, 1024),
      maxConcurrentRequests: intFlag(args, "max-concurrent-requests", defaultLimits.maxConcurrentRequests, 1),
    };
    if (limits.maxEventBytes > limits.maxRequestBytes)
      throw new UsageError("--max-event-bytes must not exceed --max-request-bytes");
    const retentionDays = intFlag(args, "retention-days", 0, 0);
    const retentionIntervalMs = intFlag(args, "retention-interval-ms", 10 * 60_000, 100);
    const tokenFile = stringFlag(args, "token-file");
    const kafka = kafkaConsumerConfig(args);
    const archiveSettings = archiveConfig(args, dir, process.env);
    const log = createLogger({
      name: "collector",
      level: (stringFlag(args, "log-level") ?? "info") as "info",
    });
    let auth: TokenFile | undefined;
    if (tokenFile !== undefined) {
      try {
        auth = await TokenFile.open(tokenFile, log);
      } catch (err) {
        log.error({ err: (err as Error).message }, "Failed to read API tokens");
        return 1;
      }
    }
    const registry = createRegistry("collector");
    let archive: CollectorArchive | undefined;
    try {
      if (archiveSettings)
        archive = await CollectorArchive.open({ ...archiveSettings, dataDir: dir, registry, log });
    } catch (err) {
      log.error({ err, archive: archiveSettings?.target.location }, "Failed to open the Parquet archive");
      return 1;
    }
    const reviewMaxItems = intFlag(args, "review-max-items", 1000, 1);
    // the queue writes labels through the store, the store hands the queue what it stored
    const review: ReviewQueue = new ReviewQueue({
      dir,
      ingest: (lines): Promise<IngestResult> => store.ingest(lines),
      registry,
      log,
      maxItems: reviewMaxItems,
    });
    const store: EventStore = new EventStore({
      dir,
      gzip: boolFlag(args, "gzip"),
      log,
      segmentMaxBytes: intFlag(args, "segment-max-bytes", 64 * 1024 * 1024, 1),
      segmentMaxAgeMs: intFlag(args, "segment-max-age-ms", 15 * 60_000, 1),
      dedupePartitions: intFlag(args, "dedupe-partitions", 48, 1),
      ...(retentionDays > 0 ? { retentionMs: retentionDays * 86_400_000 } : {}),
      ...(archive ? { onSegmentClosed: (p: string) => archive.segmentClosed(p) } : {}),
      onStored: (events): Promise<void> => review.offer(events),
    });
    try {
      await review.start();
    } catch (err) {
      log.error({ err, dir }, "Failed to read the review queues");
      return 1;
    }
    // before the store opens a segment: every segment on disk now is closed
    await archive?.start();
    const server = new CollectorServer({
      store,
      registry,
      log,
      // with an archive, reports are shared through it: several collectors serve every report
      reports: new ReportStore(dir, KEEP_REPORTS, archiveSettings?.target),
      review,
      ...(auth ? { auth } : {}),
      limits,
    });
    let url: string;
    try {
      url = await server.listen(listen.port, listen.host);
    } catch (err) {
      log.error({ err, listen }, "Failed to listen");
      return 1;
    }
    const retention =
      retentionDays > 0 ? new Retention(store, retentionIntervalMs, registry, log) : undefined;
    retention?.start();
    const consumer = kafka ? new KafkaEventConsumer(kafka, store, registry, log) : undefined;
    consumer?.start();
    if (!auth) log.warn({}, "Left the API open: no --token-file");
    log.info(
      { url, dataDir: dir, gzip: boolFlag(args, "gzip"), auth: auth !== undefined, retentionDays, ...limits },
      "Started event collector",
    );
    await onShutdown(log).done;
    await consumer?.stop();
    await server.close();
    await retention?.stop();
    auth?.close();
    await store.close();
    await archive?.stop();
    log.info({}, "Stopped event collector");
    return 0;
  },
};
