import { version } from "../version.js";
import type { EventsArchive } from "./events-archive.js";

/** Installation-wide settings the controller passes to the renderer (from its flags). */
export interface RenderConfig {
  /** The modelship image: runs fetch, serve, logger, drift and batch. */
  image: string;
  imagePullPolicy: "Always" | "IfNotPresent" | "Never";
  /** Default event sink when spec.logging.sink is empty. */
  defaultSink: string;
  /** The collector's export endpoint: where the drift job reads events (unless eventsArchive) and stores its report. */
  eventsUrl: string;
  /** The collectors' shared Parquet archive: drift jobs read it instead of eventsUrl (several collectors). */
  eventsArchive?: EventsArchive;
  clusterDomain: string;
  /** Pushgateway the drift job pushes its metrics to (a CronJob is not scraped); none when absent. */
  pushgatewayUrl?: string;
  /**
   * The collector's bearer token: copied into a Secret beside each ModelDeployment, whose loggers (on
   * the default sink) and drift job send it. None: the collector is open and nothing is mounted.
   */
  collectorToken?: string;
  /**
   * KEDA's HTTP add-on interceptor proxy, NAMESPACE/NAME:PORT: where a Gateway route sends a model that scales
   * to zero, so its requests wake it (default: the add-on's Helm chart's names).
   */
  kedaInterceptor: string;
}

export const defaultRenderConfig: RenderConfig = {
  image: `modelship/modelship:${version}`,
  imagePullPolicy: "IfNotPresent",
  defaultSink: "http://modelship-collector.modelship-system.svc:9090",
  eventsUrl: "http://modelship-collector.modelship-system.svc:9090",
  clusterDomain: "cluster.local",
  kedaInterceptor: "keda/keda-add-ons-http-interceptor-proxy:8080",
};

/** NAMESPACE/NAME:PORT as its parts. */
export function serviceRef(ref: string): { namespace: string; name: string; port: number } {
  const m = /^([a-z0-9-]+)\/([a-z0-9-]+):(\d+)$/.exec(ref);
  if (!m) throw new Error(`"${ref}" is not NAMESPACE/NAME:PORT`);
  return { namespace: m[1]!, name: m[2]!, port: Number(m[3]) };
}

/** Ports inside every inference pod. */
export const ports = {
  /** The logger sidecar: what Services send traffic to when logging is on. */
  logger: 8080,
  /** The logger's port when a custom container listens on `logger` itself (8080 is both defaults). */
  loggerAlternate: 8090,
  /** The model server (built-in runtime). */
  serve: 8081,
  /** The built-in model server's gRPC port (OIP v2 GRPCInferenceService); the Services expose the same number. */
  grpc: 8085,
  /** The Service port clients call. */
  service: 80,
} as const;

export const paths = {
  models: "/models",
  spool: "/var/spool/modelship",
  /** The revisions' variants ConfigMap, in the logger. */
  variants: "/etc/modelship/variants",
  pvcRoot: "/mnt/pvc",
  modelFile: "model.onnx",
} as const;
