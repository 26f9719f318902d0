import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "../platform/log.js";
import { createRegistry } from "../platform/metrics.js";
import { onShutdown } from "../platform/shutdown.js";
import { startLogger } from "../logger/app.js";
import { parseFeatures, parseSampleRate, parseVariant } from "../events/config.js";
import { parseUpstream, parseUpstreamReadiness } from "../logger/config.js";
import { parseListen } from "../platform/listen.js";
import { parseRedactPaths } from "../events/redact.js";
import { DEFAULT_SYNC_INTERVAL_MS, type SpoolMode } from "../events/spool.js";
import { DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_INFLIGHT_BODY_BYTES } from "../logger/proxy.js";
import {
  UsageError,
  intFlag,
  listFlag,
  numberFlag,
  requiredFlag,
  stringFlag,
  boolFlag,
  type Command,
} from "./command.js";

/** --spool-mode: write-through (the default), fsync or buffered. */
function spoolMode(value: string | undefined): SpoolMode {
  if (value === undefined) return "write-through";
  if (value === "write-through" || value === "fsync" || value === "buffered") return value;
  throw new UsageError(`--spool-mode must be write-through, fsync or buffered, got "${value}"`);
}

const usage = `Usage: modelship logger --model NAME [flags]

The inference logger sidecar: a reverse proxy for the OIP v2 and KServe v1 routes that records one
InferenceEvent v1 per request (errors included) into a disk spool and ships it to a sink.

Flags:
  --listen HOST:PORT           where to listen (default 0.0.0.0:8080); /metrics /healthz /readyz too
  --upstream URL               the model server (default http://127.0.0.1:8081)
  --fallback-upstream URL      retry a 5xx / unreachable / timed-out request once here (canary -> stable)
  --upstream-timeout-ms N      per-attempt upstream timeout (default 30000)
  --upstream-readiness PATH|tcp  /readyz follows the model server: GET PATH answering 2xx/3xx, or tcp: it
                               accepts connections (default /v2/health/ready)
  --sink URL                   stdout: | file:///dir | http://collector:9090 (default stdout:)
  --sink-token-file FILE       bearer token sent to an http(s) sink (the collector's Secret)
  --spool-dir DIR              disk spool (default $TMPDIR/modelship-spool)
  --spool-max-bytes N          spool bound; beyond it events are dropped and counted (default 268435456)
  --spool-mode MODE            write-through (default): each event is written (page cache) before its answer
                               leaves, so a kill -9 of the logger loses no answered request's event; fsync:
                               written and fdatasync'd before the answer (group commit), so a node crash
                               loses none either; buffered: written every --spool-sync-ms after the answer,
                               a kill -9 loses up to one interval
  --spool-sync-ms N            fsync interval (write-through) or write+fsync interval (buffered)
                               (default ${DEFAULT_SYNC_INTERVAL_MS})
  --model NAME                 model name (required)
  --model-version V            model version
  --revision R                 ModelDeployment revision (default "default")
  --variant V                  stable | canary | shadow | preview (default stable)
  --variant-file FILE          the variant, re-read every 5 s while running (a ConfigMap volume); --variant
                               while the file is absent
  --namespace NS               Kubernetes namespace, part of the event source (default $POD_NAMESPACE)
  --sample-rate R              fraction of successful requests recorded, 0..1 (default 1; failures always)
  --redact PATH                remove inputs.NAME | outputs.NAME | features.NAME | headers.NAME | parameters.NAME (repeatable)
  --features JSON              feature schema: [{"name":..., "type":"numeric|categorical|boolean|string", "categories"?:[...]}]
  --header-allowlist NAME      record this request header besides x-request-id (repeatable)
  --max-payload-bytes N        larger request/response tensors are recorded without data, truncated: true (default 1048576)
  --max-body-bytes N           largest request body proxied (413 beyond) and response body (502) (default ${DEFAULT_MAX_BODY_BYTES})
  --max-inflight-body-bytes N  request and response bodies held in memory at once, all requests together; a
                               request that does not fit gets 503 + Retry-After (default ${DEFAULT_MAX_INFLIGHT_BODY_BYTES})
  --drain-timeout-ms N         on shutdown, keep shipping this long; what is left is counted and logged
                               (default 5000)
  --log-level LEVEL            debug | info | warn | error (default info)
  --print-event-schema         print the InferenceEvent v1 JSON Schema and exit`;

export const command: Command = {
  name: "logger",
  summary: "Inference logger sidecar: proxy, InferenceEvent v1, spool, sinks",
  usage,
  options: {
    listen: { type: "string" },
    upstream: { type: "string" },
    "fallback-upstream": { type: "string" },
    "upstream-timeout-ms": { type: "string" },
    "upstream-readiness": { type: "string" },
    sink: { type: "string" },
    "sink-token-file": { type: "string" },
    "spool-dir": { type: "string" },
    "spool-max-bytes": { type: "string" },
    "spool-sync-ms": { type: "string" },
    "spool-mode": { type: "string" },
    model: { type: "string" },
    "model-version": { type: "string" },
    revision: { type: "string" },
    variant: { type: "string" },
    "variant-file": { type: "string" },
    namespace: { type: "string" },
    "sample-rate": { type: "string" },
    redact: { type: "string", multiple: true },
    features: { type: "string" },
    "header-allowlist": { type: "string", multiple: true },
    "max-payload-bytes": { type: "string" },
    "max-body-bytes": { type: "string" },
    "max-inflight-body-bytes": { type: "string" },
    "drain-timeout-ms": { type: "string" },
    "log-level": { type: "string" },
    "print-event-schema": { type: "boolean" },
  },
  async run(args) {
    if (boolFlag(args, "print-event-schema")) {
      // loaded only here: the running sidecar never loads zod
      const { renderEventJsonSchema } = await import("../events/json-schema.js");
      process.stdout.write(renderEventJsonSchema());
      return 0;
    }
    const wrap = <T>(f: () => T): T => {
      try {
        return f();
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
    };
    const model = requiredFlag(args, "model");
    const listen = wrap(() => parseListen(stringFlag(args, "listen") ?? "0.0.0.0:8080", "listen"));
    const upstream = wrap(() =>
      parseUpstream(stringFlag(args, "upstream") ?? "http://127.0.0.1:8081", "upstream"),
    );
    const fb = stringFlag(args, "fallback-upstream");
    const fallbackUpstream =
      fb === undefined ? undefined : wrap(() => parseUpstream(fb, "fallback-upstream"));
    const upstreamReadiness = wrap(() =>
      parseUpstreamReadiness(stringFlag(args, "upstream-readiness") ?? "/v2/health/ready"),
    );
    const variantFile = stringFlag(args, "variant-file");
    const modelVersion = stringFlag(args, "model-version");
    // the renderer passes the pod's namespace as POD_NAMESPACE (downward API)
    const namespace = stringFlag(args, "namespace") ?? (process.env.POD_NAMESPACE || undefined);
    const event = {
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
    };
    const sink = stringFlag(args, "sink") ?? "stdout:";
    const sinkTokenFile = stringFlag(args, "sink-token-file");
    const level = (stringFlag(args, "log-level") ?? "info") as "info";
    const log = createLogger({ name: "logger", level });
    const registry = createRegistry("logger");
    let running;
    try {
      running = await startLogger(
        {
          host: listen.host,
          port: listen.port,
          upstream,
          ...(fallbackUpstream !== undefined ? { fallbackUpstream } : {}),
          upstreamTimeoutMs: intFlag(args, "upstream-timeout-ms", 30_000, 1),
          sink,
          ...(sinkTokenFile !== undefined ? { sinkTokenFile } : {}),
          spoolDir: stringFlag(args, "spool-dir") ?? join(tmpdir(), "modelship-spool"),
          spoolMaxBytes: intFlag(args, "spool-max-bytes", 256 * 1024 * 1024, 1024),
          spoolSyncMs: intFlag(args, "spool-sync-ms", DEFAULT_SYNC_INTERVAL_MS, 1),
          spoolMode: spoolMode(stringFlag(args, "spool-mode")),
          event,
          drainTimeoutMs: intFlag(args, "drain-timeout-ms", 5_000, 0),
          maxBodyBytes: intFlag(args, "max-body-bytes", DEFAULT_MAX_BODY_BYTES, 1024),
          maxInflightBodyBytes: intFlag(
            args,
            "max-inflight-body-bytes",
            DEFAULT_MAX_INFLIGHT_BODY_BYTES,
            1024,
          ),
          upstreamReadiness,
          ...(variantFile !== undefined ? { variantFile } : {}),
        },
        log,
        registry,
      );
    } catch (err) {
      if (err instanceof UsageError) throw err;
      const msg = (err as Error).message;
      if (msg.startsWith("--sink")) throw new UsageError(msg);
      log.error({ err }, "Failed to start inference logger");
      return 1;
    }
    await onShutdown(log).done;
    await running.close();
    return 0;
  },
};
