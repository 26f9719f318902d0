import { createLogger } from "../platform/log.js";
import { createRegistry } from "../platform/metrics.js";
import { onShutdown } from "../platform/shutdown.js";
import { startLogger } from "../logger/app.js";
import { parseUpstream, parseUpstreamReadiness } from "../logger/config.js";
import { parseListen } from "../platform/listen.js";
import { DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_INFLIGHT_BODY_BYTES } from "../logger/proxy.js";
import { UsageError, intFlag, requiredFlag, stringFlag, boolFlag, type Command } from "./command.js";
import { eventOptions, eventUsage, parseEventFlags, startMirror } from "./event-flags.js";

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
  --model NAME                 model name (required)
  --model-version V            model version
  --max-body-bytes N           largest request body proxied (413 beyond) and response body (502) (default ${DEFAULT_MAX_BODY_BYTES})
  --max-inflight-body-bytes N  request and response bodies held in memory at once, all requests together; a
                               request that does not fit gets 503 + Retry-After (default ${DEFAULT_MAX_INFLIGHT_BODY_BYTES})
  --log-level LEVEL            debug | info | warn | error (default info)
  --print-event-schema         print the InferenceEvent v1 JSON Schema and exit

How events are recorded (the same flags as serve's):
${eventUsage.join("\n")}`;

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
    model: { type: "string" },
    "model-version": { type: "string" },
    "max-body-bytes": { type: "string" },
    "max-inflight-body-bytes": { type: "string" },
    "log-level": { type: "string" },
    "print-event-schema": { type: "boolean" },
    ...eventOptions,
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
    const recording = parseEventFlags(args, model, stringFlag(args, "model-version"));
    const level = (stringFlag(args, "log-level") ?? "info") as "info";
    const log = createLogger({ name: "logger", level });
    const registry = createRegistry("logger");
    const mirror = await startMirror(args, registry, log);
    let running;
    try {
      running = await startLogger(
        {
          host: listen.host,
          port: listen.port,
          upstream,
          ...(fallbackUpstream !== undefined ? { fallbackUpstream } : {}),
          upstreamTimeoutMs: intFlag(args, "upstream-timeout-ms", 30_000, 1),
          ...recording,
          maxBodyBytes: intFlag(args, "max-body-bytes", DEFAULT_MAX_BODY_BYTES, 1024),
          maxInflightBodyBytes: intFlag(
            args,
            "max-inflight-body-bytes",
            DEFAULT_MAX_INFLIGHT_BODY_BYTES,
            1024,
          ),
          upstreamReadiness,
          ...(mirror !== undefined ? { mirror: mirror.mirror } : {}),
        },
        log,
        registry,
      );
    } catch (err) {
      if (err instanceof UsageError) throw err;
      const msg = (err as Error).message;
      if (msg.startsWith("--sink")) throw new UsageError(msg);
      log.error({ err }, "Failed to start inference logger");
      await mirror?.close();
      return 1;
    }
    await onShutdown(log).done;
    await running.close();
    await mirror?.close();
    return 0;
  },
};
