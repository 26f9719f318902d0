import { z } from "zod";
import { defaultRenderConfig } from "../render/config.js";

/** Controller settings from flags (and MODELSHIP_* env), validated with messages that name the flag. */
export const ControllerConfig = z.object({
  kubeconfig: z.string().optional(),
  namespaces: z
    .array(
      z
        .string()
        .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "--namespaces: each entry must be a namespace name"),
    )
    .describe("Empty: watch every namespace (cluster mode)."),
  podsInAllNamespaces: z
    .boolean()
    .describe(
      "With --namespaces: watch pods cluster-wide (GPU pods of other namespaces count against free GPUs).",
    ),
  workers: z.number().int().min(1, "--workers must be >= 1").max(64),
  leaderElect: z.boolean(),
  leaderElectionNamespace: z.string().min(1),
  leaderElectionId: z.string().min(1),
  metricsBindAddress: z
    .string()
    .regex(/^[^:]*:\d+$/, "--metrics-bind-address must look like 0.0.0.0:8080 or :8080"),
  resyncSeconds: z.number().int().min(10, "--resync-seconds must be >= 10"),
  image: z.string().min(1),
  defaultSink: z.string().min(1),
  eventsUrl: z.string().min(1),
  clusterDomain: z.string().min(1),
  kedaInterceptor: z
    .string()
    .regex(
      /^[a-z0-9-]+\/[a-z0-9-]+:\d+$/,
      "--keda-interceptor must be NAMESPACE/NAME:PORT of KEDA's interceptor proxy Service, such as keda/keda-add-ons-http-interceptor-proxy:8080",
    ),
  prometheusUrl: z
    .url("--prometheus-url must be a URL such as http://prometheus.monitoring.svc:9090")
    .optional(),
  pushgatewayUrl: z
    .url("--pushgateway-url must be a URL such as http://pushgateway.monitoring.svc:9091")
    .optional(),
  collectorTokenFile: z.string().min(1).optional(),
  eventsArchive: z
    .string()
    .regex(
      /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/,
      "--events-archive must be the collectors' archive, s3://BUCKET[/PREFIX], such as s3://ml-events/archive",
    )
    .optional(),
  eventsArchiveCredentials: z.string().min(1).optional(),
  logLevel: z.enum(["trace", "debug", "info", "warn", "error"]),
});
export type ControllerConfig = z.infer<typeof ControllerConfig>;

export const controllerDefaults = {
  workers: 8,
  podsInAllNamespaces: true,
  leaderElect: true,
  leaderElectionNamespace: "modelship-system",
  leaderElectionId: "modelship-controller",
  metricsBindAddress: "0.0.0.0:8080",
  resyncSeconds: 600,
  image: defaultRenderConfig.image,
  defaultSink: defaultRenderConfig.defaultSink,
  eventsUrl: defaultRenderConfig.eventsUrl,
  clusterDomain: defaultRenderConfig.clusterDomain,
  kedaInterceptor: defaultRenderConfig.kedaInterceptor,
  logLevel: "info" as const,
};
