// The flags that say how a process records inference events, shared by `serve` (built-in pods record their
// own events) and `logger` (the sidecar in front of a custom container).
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseFeatures, parseSampleRate, parseVariant } from "../events/config.js";
import type { RecorderConfig } from "../events/recorder.js";
import { parseRedactPaths } from "../events/redact.js";
import { parseReviewRule } from "../events/review.js";
import { DEFAULT_SYNC_INTERVAL_MS, type SpoolMode } from "../events/spool.js";
import type { Logger } from "../platform/log.js";
import { Mirror, MirrorFile } from "../runtime/mirror.js";
import type { Registry } from "prom-client";
import {
  intFlag,
  listFlag,
  numberFlag,
  stringFlag,
  UsageError,
  type Command,
  type ParsedArgs,
} from "./command.js";

export const eventOptions: Command["options"] = {
  sink: { type: "string" },
  "sink-token-file": { type: "string" },
  "spool-dir": { type: "string" },
  "spool-max-bytes": { type: "string" },
  "spool-sync-ms": { type: "string" },
  "spool-mode": { type: "string" },
  revision: { type: "string" },
  variant: { type: "string" },
  "variant-file": { type: "string" },
  namespace: { type: "string" },
  "sample-rate": { type: "string" },
  redact: { type: "string", multiple: true },
  features: { type: "string" },
  "header-allowlist": { type: "string", multiple: true },
  "max-payload-bytes": { type: "string" },
  "drain-timeout-ms": { type: "string" },
  "review-threshold": { type: "string" },
  "review-sample-rate": { type: "string" },
  "review-output": { type: "string" },
  "mirror-file": { type: "string" },
  "mirror-max-inflight": { type: "string" },
  "mirror-timeout-ms": { type: "string" },
};

export const eventUsage = [
  "  --sink URL                   stdout: | file:///dir | http://collector:9090 | kafka://broker:9092/topic",
  "                               (docs/kafka.md; logger: default stdout:;",
  "                               serve records events only when --sink is given)",
  "  --sink-token-file FILE       bearer token sent to an http(s) sink (the collector's Secret)",
  "  --spool-dir DIR              disk spool (default $TMPDIR/modelship-spool)",
  "  --spool-max-bytes N          spool bound; beyond it events are dropped and counted (default 268435456)",
  "  --spool-mode MODE            write-through (default): each event is written before its answer leaves, so",
  "                               a kill -9 loses no answered request's event; fsync: also fdatasync'd before",
  "                               the answer (group commit; survives a node crash); buffered: written every",
  "                               --spool-sync-ms, a kill -9 loses up to one interval",
  `  --spool-sync-ms N            fsync interval (write-through) or write+fsync interval (buffered) (default ${DEFAULT_SYNC_INTERVAL_MS})`,
  '  --revision R                 ModelDeployment revision (default "default")',
  "  --variant V                  stable | canary | shadow | preview (default stable)",
  "  --variant-file FILE          the variant, re-read every 5 s while running (a ConfigMap volume); --variant",
  "                               while the file is absent",
  "  --namespace NS               Kubernetes namespace, part of the event source (default $POD_NAMESPACE)",
  "  --sample-rate R              fraction of successful requests recorded, 0..1 (default 1; failures always)",
  "  --redact PATH                remove inputs.NAME | outputs.NAME | features.NAME | headers.NAME | parameters.NAME (repeatable)",
  '  --features JSON              feature schema: [{"name":..., "type":"numeric|categorical|boolean|string", "categories"?:[...]}]',
  "  --header-allowlist NAME      record this request header besides x-request-id (repeatable)",
  "  --max-payload-bytes N        larger request/response tensors are recorded without data, truncated: true (default 1048576)",
  "  --drain-timeout-ms N         on shutdown, keep shipping this long; what is left stays on disk, counted (default 5000)",
  "  --review-threshold P         mark a prediction for human review when its top class probability is below P",
  "                               (data.review in the event; the collector queues it; docs/review.md)",
  "  --review-sample-rate R       fraction of those low-confidence predictions marked, 0..1 (default 1)",
  '  --review-output NAME         the output tensor of class probabilities (default "probabilities")',
  "",
  "Shadow traffic (the data-plane mirror; the copies are recorded by the shadow's own pods, as variant shadow):",
  '  --mirror-file PATH           a file holding {"url":"http://host:port","percent":N}, re-read every 5 s; that',
  "                               share of inference requests is copied there after each answer (absent: none)",
  "  --mirror-max-inflight N      copies in flight at once; more are skipped and counted (default 16)",
  "  --mirror-timeout-ms N        a copy not answered by then is abandoned (default 5000)",
];

/** The shadow copier when --mirror-file is given; close() stops watching and closes its connections. */
export async function startMirror(
  args: ParsedArgs,
  registry: Registry,
  log: Logger,
): Promise<{ mirror: Mirror; close(): Promise<void> } | undefined> {
  const file = stringFlag(args, "mirror-file");
  if (file === undefined) return undefined;
  const mirror = new Mirror({
    maxInflight: intFlag(args, "mirror-max-inflight", 16, 1),
    timeoutMs: intFlag(args, "mirror-timeout-ms", 5_000, 1),
    registry,
    log,
  });
  const watch = new MirrorFile(file, mirror, log);
  await watch.start();
  return {
    mirror,
    close: async () => {
      watch.stop();
      await mirror.close();
    },
  };
}

/** --spool-mode; write-through unless told otherwise. */
export function parseSpoolMode(value: string | undefined): SpoolMode {
  if (value === undefined) return "write-through";
  if (value === "write-through" || value === "fsync" || value === "buffered") return value;
  throw new UsageError(`--spool-mode must be write-through, fsync or buffered, got "${value}"`);
}

function wrap<T>(f: () => T): T {
  try {
    return f();
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** The recorder's configuration from the flags above, for the model `model` (and its version). */
export function parseEventFlags(args: ParsedArgs, model: string, modelVersion?: string): RecorderConfig {
  // the renderer passes the pod's namespace as POD_NAMESPACE (downward API)
  const namespace = stringFlag(args, "namespace") ?? (process.env.POD_NAMESPACE || undefined);
  const variantFile = stringFlag(args, "variant-file");
  const tokenFile = stringFlag(args, "sink-token-file");
  const review = wrap(() =>
    parseReviewRule(
      stringFlag(args, "review-threshold"),
      stringFlag(args, "review-sample-rate"),
      stringFlag(args, "review-output"),
    ),
  );
  return {
    sink: stringFlag(args, "sink") ?? "stdout:",
    ...(tokenFile !== undefined ? { sinkTokenFile: tokenFile } : {}),
    spoolDir: stringFlag(args, "spool-dir") ?? join(tmpdir(), "modelship-spool"),
    spoolMaxBytes: intFlag(args, "spool-max-bytes", 256 * 1024 * 1024, 1024),
    spoolSyncMs: intFlag(args, "spool-sync-ms", DEFAULT_SYNC_INTERVAL_MS, 1),
    spoolMode: parseSpoolMode(stringFlag(args, "spool-mode")),
    drainTimeoutMs: intFlag(args, "drain-timeout-ms", 5_000, 0),
    ...(variantFile !== undefined ? { variantFile } : {}),
    event: {
      model,
      ...(modelVersion !== undefined ? { modelVersion } : {}),
      ...(namespace !== undefined ? { namespace } : {}),
      revision: stringFlag(args, "revision") ?? "default",
      variant: wrap(() => parseVariant(stringFlag(args, "variant") ?? "stable")),
      features: wrap(() => parseFeatures(stringFlag(args, "features"))),
      redact: wrap(() => parseRedactPaths(listFlag(args, "redact"))),
      headerAllowlist: listFlag(args, "header-allowlist").map((h) => h.toLowerCase()),
      maxPayloadBytes: intFlag(args, "max-payload-bytes", 1024 * 1024, 0),
      sampleRate: wrap(() => parseSampleRate(numberFlag(args, "sample-rate", 1))),
      ...(review !== undefined ? { review } : {}),
    },
  };
}
