// The Helm chart's values (charts/modelship/values.yaml), as one zod schema: `npm run chart-schema` writes
// charts/modelship/values.schema.json from it (helm checks every install and upgrade against that file), and
// the chart tests check values.yaml against it key by key.
import { z } from "zod";
import { ControllerConfig } from "../controller/config.js";

export const valuesSchemaFile = "charts/modelship/values.schema.json";

const name = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "a Kubernetes name (lowercase letters, digits, '-')")
  .max(63);
const stringMap = z.record(z.string(), z.string());
/** A Kubernetes object this chart copies into a pod spec untouched (affinity, a toleration, an env var). */
const passThrough = z.record(z.string(), z.unknown());
const quantity = z.union([z.string().min(1), z.number()]);
const resources = z
  .object({
    requests: z.record(z.string(), quantity).optional(),
    limits: z.record(z.string(), quantity).optional(),
  })
  .strict()
  .describe("Container resources (requests and limits), as in a pod spec.");
const httpUrl = z.union([z.literal(""), z.string().regex(/^https?:\/\/[^\s/]+/, "an http(s) URL")]);
/** A Prometheus duration: 30s, 1m, 1h30m. */
const promDuration = z.string().regex(/^([0-9]+(ms|s|m|h|d|w|y))+$/, "a Prometheus duration such as 30s");
const envVar = z
  .object({ name: z.string().min(1) })
  .catchall(z.unknown())
  .describe("An env var, as in a container spec: name plus value or valueFrom.");

const scheduling = {
  nodeSelector: stringMap.describe("Pod nodeSelector."),
  tolerations: z.array(passThrough).describe("Pod tolerations."),
  affinity: passThrough.describe("Pod affinity, as in a pod spec."),
  priorityClassName: z.string(),
};

const controller = z
  .object({
    replicas: z.int().min(0).describe("Leader election keeps exactly one active; the others wait warm."),
    workers: ControllerConfig.shape.workers.describe("Concurrent reconciles (--workers)."),
    namespaces: ControllerConfig.shape.namespaces.describe(
      "Namespaces to watch (--namespaces); empty: the whole cluster. With rbac.scope auto, a list here " +
        "also limits the controller's RBAC to these namespaces.",
    ),
    resyncSeconds: ControllerConfig.shape.resyncSeconds,
    logLevel: ControllerConfig.shape.logLevel,
    prometheusUrl: httpUrl.describe("Prometheus that analysis steps query (--prometheus-url)."),
    pushgatewayUrl: httpUrl.describe("Pushgateway the drift jobs push to (--pushgateway-url)."),
    kedaInterceptor: ControllerConfig.shape.kedaInterceptor.describe(
      "KEDA's HTTP interceptor proxy Service, NAMESPACE/NAME:PORT (--keda-interceptor): where a Gateway route of a model that scales to zero goes.",
    ),
    leaderElection: z
      .object({
        enabled: z.boolean().describe("false runs without a Lease: only with replicas 1."),
        id: name.describe("The Lease's name (--leader-election-id) in the release namespace."),
      })
      .strict(),
    extraArgs: z.array(z.string()).describe("More controller flags, e.g. --workers=16."),
    extraEnv: z.array(envVar),
    nodeOptions: z.string().max(1024).describe("NODE_OPTIONS for the controller; empty: Node.js defaults."),
    resources,
    podAnnotations: stringMap,
    podAntiAffinity: z
      .enum(["soft", "hard", "none"])
      .describe(
        "Spread the replicas over nodes: soft prefers it, hard requires it. Ignored when affinity is set.",
      ),
    ...scheduling,
    podDisruptionBudget: z
      .object({
        enabled: z.boolean(),
        maxUnavailable: z.union([z.int().min(1), z.string().regex(/^[0-9]+%$/)]),
      })
      .strict(),
  })
  .strict();

const collector = z
  .object({
    enabled: z.boolean(),
    replicas: z
      .int()
      .min(0)
      .describe("Above 1 needs archive.url: each replica holds only the events sent to it."),
    archive: z
      .object({
        url: z
          .union([z.literal(""), ControllerConfig.shape.eventsArchive.unwrap()])
          .describe(
            "s3://BUCKET[/PREFIX]: every replica writes closed segments as Parquet there; drift jobs read it.",
          ),
        credentialsSecret: z
          .string()
          .describe(
            "A Secret with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (optionally AWS_ENDPOINT_URL_S3...).",
          ),
        mode: z.enum(["copy", "move"]),
        retentionDays: z.int().min(0),
      })
      .strict(),
    storage: quantity.describe("Size of the events volume (the PVC, or the emptyDir's sizeLimit)."),
    storageClassName: z.string(),
    persistence: z
      .object({
        enabled: z.boolean().describe("false: an emptyDir; events are lost with the pod."),
        retainOnDelete: z.boolean(),
        existingClaim: z.string().describe("A PVC you made; the chart then makes none."),
      })
      .strict(),
    resources,
    auth: z.object({ existingSecret: z.string() }).strict(),
    maxRequestBytes: z.int().min(1024),
    maxEventBytes: z.int().min(1024),
    maxConcurrentRequests: z.int().min(1),
    retentionDays: z.int().min(0),
    networkPolicy: z
      .object({
        enabled: z.boolean(),
        extraFrom: z.array(passThrough).describe("More NetworkPolicy 'from' peers."),
      })
      .strict(),
    extraArgs: z.array(z.string()),
    extraEnv: z.array(envVar),
    podAnnotations: stringMap,
    ...scheduling,
  })
  .strict();

const monitor = z.object({ enabled: z.boolean(), interval: promDuration, labels: stringMap }).strict();

export const ChartValues = z
  .object({
    image: z
      .object({
        repository: z.string().min(1),
        tag: z.string().describe("Empty: the chart's appVersion."),
        digest: z
          .union([z.literal(""), z.string().regex(/^sha256:[a-f0-9]{64}$/, "sha256:<64 hex digits>")])
          .describe("Pins the image: repository@digest, for the controller, collector and model pods."),
        pullPolicy: z.enum(["Always", "IfNotPresent", "Never"]),
      })
      .strict(),
    imagePullSecrets: z
      .array(z.object({ name }).strict())
      .describe("Secrets for pulling the image: the controller, collector and test pods."),
    rbac: z
      .object({
        scope: z
          .enum(["auto", "cluster", "namespace"])
          .describe(
            "cluster: a ClusterRole; namespace: a Role in each of controller.namespaces; auto: namespace " +
              "when controller.namespaces is set.",
          ),
        listPodsInAllNamespaces: z
          .boolean()
          .describe(
            "Namespace scope only: watch pods cluster-wide, which counting free GPUs for a GPU rollout needs.",
          ),
      })
      .strict(),
    controller,
    collector,
    clusterDomain: z.string().min(1),
    monitoring: z
      .object({
        podMonitor: monitor.describe("A PodMonitor for every model pod."),
        serviceMonitor: monitor.describe("ServiceMonitors for the controller and the collector."),
        prometheusRule: z.object({ enabled: z.boolean(), labels: stringMap }).strict(),
        grafanaDashboard: z.object({ enabled: z.boolean(), labels: stringMap }).strict(),
      })
      .strict(),
    tests: z.object({ resources }).strict().describe("The pod `helm test` runs."),
    global: passThrough.optional().describe("Set by Helm when this chart is a dependency."),
  })
  .strict();
export type ChartValues = z.infer<typeof ChartValues>;

/** The JSON Schema (draft-07, which every Helm 3 validates with) of the chart's values. */
export function valuesSchema(): Record<string, unknown> {
  const schema = dropSafeIntegerBounds(
    z.toJSONSchema(ChartValues, { target: "draft-07", io: "input" }),
  ) as Record<string, unknown>;
  return {
    $schema: schema.$schema,
    title: "modelship Helm chart values",
    description: "Generated from src/platform/chart-values.ts by `npm run chart-schema`. Do not edit.",
    ...schema,
  };
}

/** values.schema.json's text, laid out as prettier lays out JSON (arrays on one line when they fit). */
export function valuesSchemaJSON(): string {
  return formatJSON(valuesSchema(), 0) + "\n";
}

/** z.int() says "at most 2^53 - 1", which only adds noise to a values file. */
function dropSafeIntegerBounds(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(dropSafeIntegerBounds);
  if (v === null || typeof v !== "object") return v;
  return Object.fromEntries(
    Object.entries(v)
      .filter(([k, x]) => !(k === "maximum" && x === Number.MAX_SAFE_INTEGER))
      .filter(([k, x]) => !(k === "minimum" && x === -Number.MAX_SAFE_INTEGER))
      .map(([k, x]) => [k, dropSafeIntegerBounds(x)]),
  );
}

const printWidth = 110;

function formatJSON(v: unknown, indent: number, prefix = ""): string {
  const pad = " ".repeat(indent);
  const inner = " ".repeat(indent + 2);
  if (Array.isArray(v)) {
    if (v.length === 0) return "[]";
    if (v.every((x) => x === null || typeof x !== "object")) {
      const flat = `[${v.map((x) => JSON.stringify(x)).join(", ")}]`;
      if (indent + prefix.length + flat.length + 1 <= printWidth) return flat;
    }
    return `[\n${v.map((x) => inner + formatJSON(x, indent + 2)).join(",\n")}\n${pad}]`;
  }
  if (v !== null && typeof v === "object") {
    const entries = Object.entries(v as Record<string, unknown>);
    if (entries.length === 0) return "{}";
    const lines = entries.map(([k, x]) => {
      const key = `${JSON.stringify(k)}: `;
      return inner + key + formatJSON(x, indent + 2, key);
    });
    return `{\n${lines.join(",\n")}\n${pad}}`;
  }
  return JSON.stringify(v);
}
