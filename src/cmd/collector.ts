import { createLogger } from "../platform/log.js";
import { createRegistry } from "../platform/metrics.js";
import { onShutdown } from "../platform/shutdown.js";
import { CollectorServer } from "../collector/server.js";
import { ReportStore } from "../collector/reports.js";
import { EventStore } from "../collector/store.js";
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
  --log-level LEVEL           debug | info | warn | error (default info)

Routes: POST /v1/events (NDJSON or JSON array), GET /v1/events?model=NAME&since=RFC3339&until=RFC3339[&type=inference|feedback],
GET /v1/models, drift reports (POST /v1/reports, GET /v1/reports/NAME[/ID|/latest]; kept in DIR/@reports,
the newest 200 per model), /metrics, /healthz, /readyz.`;

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
    "log-level": { type: "string" },
  },
  async run(args) {
    let listen;
    try {
      listen = parseListen(stringFlag(args, "listen") ?? "0.0.0.0:9090", "listen");
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const dir = requiredFlag(args, "data-dir");
    const log = createLogger({
      name: "collector",
      level: (stringFlag(args, "log-level") ?? "info") as "info",
    });
    const registry = createRegistry("collector");
    const store = new EventStore({
      dir,
      gzip: boolFlag(args, "gzip"),
      log,
      segmentMaxBytes: intFlag(args, "segment-max-bytes", 64 * 1024 * 1024, 1),
      segmentMaxAgeMs: intFlag(args, "segment-max-age-ms", 15 * 60_000, 1),
      dedupePartitions: intFlag(args, "dedupe-partitions", 48, 1),
    });
    const server = new CollectorServer(store, registry, log, new ReportStore(dir));
    let url: string;
    try {
      url = await server.listen(listen.port, listen.host);
    } catch (err) {
      log.error({ err, listen }, "Failed to listen");
      return 1;
    }
    log.info({ url, dataDir: dir, gzip: boolFlag(args, "gzip") }, "Started event collector");
    await onShutdown(log).done;
    await server.close();
    await store.close();
    log.info({}, "Stopped event collector");
    return 0;
  },
};
