import { ControllerConfig, controllerDefaults } from "../controller/config.js";
import { readArchiveCredentials } from "../controller/archive-credentials.js";
import { Manager } from "../controller/manager.js";
import { readTokenFile } from "../events/token.js";
import { KubeClient, loadKubeConfig } from "../k8s/client.js";
import type { EventsArchive } from "../render/events-archive.js";
import { createLogger } from "../platform/log.js";
import { createRegistry } from "../platform/metrics.js";
import { onShutdown } from "../platform/shutdown.js";
import { intFlag, stringFlag, UsageError, type Command, type ParsedArgs } from "./command.js";

const env = (name: string) => process.env[`MODELSHIP_${name}`];

function configFrom(args: ParsedArgs): ControllerConfig {
  const d = controllerDefaults;
  const leaderElect = stringFlag(args, "leader-elect") ?? env("LEADER_ELECT");
  const podsInAll = stringFlag(args, "pods-in-all-namespaces") ?? env("PODS_IN_ALL_NAMESPACES");
  const raw = {
    kubeconfig: stringFlag(args, "kubeconfig"),
    namespaces: (stringFlag(args, "namespaces") ?? env("NAMESPACES") ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
    podsInAllNamespaces: podsInAll === undefined ? d.podsInAllNamespaces : podsInAll !== "false",
    workers: intFlag(args, "workers", Number(env("WORKERS") ?? d.workers), 1),
    leaderElect: leaderElect === undefined ? d.leaderElect : leaderElect !== "false",
    leaderElectionNamespace:
      stringFlag(args, "leader-election-namespace") ??
      env("POD_NAMESPACE") ??
      process.env.POD_NAMESPACE ??
      d.leaderElectionNamespace,
    leaderElectionId: stringFlag(args, "leader-election-id") ?? d.leaderElectionId,
    metricsBindAddress:
      stringFlag(args, "metrics-bind-address") ?? env("METRICS_BIND_ADDRESS") ?? d.metricsBindAddress,
    resyncSeconds: intFlag(args, "resync-seconds", d.resyncSeconds, 1),
    image: stringFlag(args, "image") ?? env("IMAGE") ?? d.image,
    defaultSink: stringFlag(args, "default-sink") ?? env("DEFAULT_SINK") ?? d.defaultSink,
    eventsUrl: stringFlag(args, "events-url") ?? env("EVENTS_URL") ?? d.eventsUrl,
    clusterDomain: stringFlag(args, "cluster-domain") ?? d.clusterDomain,
    kedaInterceptor: stringFlag(args, "keda-interceptor") ?? env("KEDA_INTERCEPTOR") ?? d.kedaInterceptor,
    prometheusUrl: stringFlag(args, "prometheus-url") ?? env("PROMETHEUS_URL"),
    pushgatewayUrl: stringFlag(args, "pushgateway-url") ?? env("PUSHGATEWAY_URL"),
    collectorTokenFile: stringFlag(args, "collector-token-file") ?? env("COLLECTOR_TOKEN_FILE"),
    eventsArchive: stringFlag(args, "events-archive") ?? env("EVENTS_ARCHIVE"),
    eventsArchiveCredentials:
      stringFlag(args, "events-archive-credentials") ?? env("EVENTS_ARCHIVE_CREDENTIALS"),
    logLevel: stringFlag(args, "log-level") ?? env("LOG_LEVEL") ?? d.logLevel,
  };
  const r = ControllerConfig.safeParse(raw);
  if (!r.success)
    throw new UsageError(r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("\n"));
  if (r.data.eventsArchiveCredentials !== undefined && r.data.eventsArchive === undefined)
    throw new UsageError("--events-archive-credentials needs --events-archive s3://BUCKET[/PREFIX]");
  return r.data;
}

export const command: Command = {
  name: "controller",
  summary: "Run the operator: reconcile ModelDeployments into their children",
  usage: [
    "Usage: modelship controller [flags]",
    "",
    "Reconciles ModelDeployments. Uses in-cluster config, or --kubeconfig / KUBECONFIG.",
    "  --kubeconfig FILE                 kubeconfig to use",
    "  --namespaces a,b                  watch only these namespaces (default: all)",
    "  --pods-in-all-namespaces true|false  with --namespaces: watch pods in every namespace, so GPUs that",
    "                                    other namespaces' pods hold count as used (default true)",
    "  --workers N                       concurrent reconciles (default 8)",
    "  --leader-elect true|false         use a Lease so one replica leads (default true)",
    "  --leader-election-namespace NS    where the Lease lives (default $POD_NAMESPACE or modelship-system)",
    "  --leader-election-id NAME         Lease name (default modelship-controller)",
    "  --metrics-bind-address HOST:PORT  /metrics, /healthz, /readyz (default 0.0.0.0:8080)",
    "  --resync-seconds N                periodic full resync (default 600)",
    "  --image IMAGE                     modelship image for model pods and jobs",
    "  --default-sink URL                inference event sink when a ModelDeployment names none",
    "  --events-url URL                  collector export URL read by drift jobs",
    "  --cluster-domain DOMAIN           (default cluster.local)",
    "  --keda-interceptor NS/NAME:PORT   KEDA's HTTP interceptor proxy Service, where a Gateway route sends a model",
    "                                    that scales to zero (default keda/keda-add-ons-http-interceptor-proxy:8080)",
    "  --prometheus-url URL              Prometheus that canary analysis queries (scrapes model pods)",
    "  --pushgateway-url URL             Pushgateway drift jobs push their metrics to (scraped by Prometheus)",
    "  --collector-token-file FILE       the collector's API token, read at start; copied into a Secret beside",
    "                                    each model whose logger or drift job uses the collector (docs/collector.md)",
    "  --events-archive s3://BUCKET[/PREFIX]  the collectors' shared Parquet archive: drift jobs read it instead of",
    "                                    --events-url, so several collectors can share the load (docs/parquet.md)",
    "  --events-archive-credentials DIR  a mounted Secret whose files AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY [...]",
    "                                    are read at start and copied beside each model with drift, as its job's env",
    "  --log-level LEVEL                 trace|debug|info|warn|error",
    "Each flag can also come from MODELSHIP_<FLAG_IN_CAPS>, e.g. MODELSHIP_WORKERS.",
  ].join("\n"),
  options: {
    kubeconfig: { type: "string" },
    namespaces: { type: "string" },
    workers: { type: "string" },
    "pods-in-all-namespaces": { type: "string" },
    "leader-elect": { type: "string" },
    "leader-election-namespace": { type: "string" },
    "leader-election-id": { type: "string" },
    "metrics-bind-address": { type: "string" },
    "resync-seconds": { type: "string" },
    image: { type: "string" },
    "default-sink": { type: "string" },
    "events-url": { type: "string" },
    "cluster-domain": { type: "string" },
    "keda-interceptor": { type: "string" },
    "prometheus-url": { type: "string" },
    "pushgateway-url": { type: "string" },
    "collector-token-file": { type: "string" },
    "events-archive": { type: "string" },
    "events-archive-credentials": { type: "string" },
    "log-level": { type: "string" },
  },
  async run(args) {
    const config = configFrom(args);
    const log = createLogger({ name: "controller", level: config.logLevel });
    const registry = createRegistry("controller");
    let kc;
    try {
      kc = await loadKubeConfig(config.kubeconfig);
    } catch (err) {
      log.error({ err: (err as Error).message }, "Could not load a kubeconfig");
      return 1;
    }
    let collectorToken: string | undefined;
    if (config.collectorTokenFile !== undefined) {
      try {
        collectorToken = await readTokenFile(config.collectorTokenFile);
      } catch (err) {
        log.error({ err: (err as Error).message }, "Could not read the collector token");
        return 1;
      }
    }
    let eventsArchive: EventsArchive | undefined;
    if (config.eventsArchive !== undefined) {
      try {
        eventsArchive = {
          url: config.eventsArchive,
          ...(config.eventsArchiveCredentials !== undefined
            ? { credentials: await readArchiveCredentials(config.eventsArchiveCredentials) }
            : {}),
        };
      } catch (err) {
        log.error({ err: (err as Error).message }, "Could not read the events archive's credentials");
        return 1;
      }
    }
    const client = await KubeClient.create(kc, registry);
    const { signal } = onShutdown(log);
    log.info(
      {
        server: client.server,
        namespaces: config.namespaces.length ? config.namespaces : "all",
        leaderElect: config.leaderElect,
      },
      "Starting controller",
    );
    const code = await new Manager({
      config,
      client,
      log,
      registry,
      ...(collectorToken !== undefined ? { collectorToken } : {}),
      ...(eventsArchive !== undefined ? { eventsArchive } : {}),
    }).run(signal);
    await client.close();
    return code;
  },
};
