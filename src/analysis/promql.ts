import type { z } from "zod";
import type { AnalysisTemplate } from "../api/v1alpha1/index.js";

type Template = z.output<typeof AnalysisTemplate>;

/**
 * Metric names the queries read: the model server's (src/runtime/metrics.ts) and the logger's
 * (src/logger/metrics.ts); modelship_fallback_total comes from whichever of the two fronts the pod. Neither carries a revision label itself; the revision comes from the scrape: the
 * pod label modelship.io/revision, copied onto every series by the usual Kubernetes relabeling (labelmap of
 * __meta_kubernetes_pod_label_*), where it is named modelship_io_revision.
 */
export const metricNames = {
  requests: "modelship_inference_requests_total",
  requestSeconds: "modelship_inference_request_duration_seconds",
  loggerRequests: "modelship_logger_requests_total",
  loggerRequestSeconds: "modelship_logger_request_duration_seconds",
  fallbacks: "modelship_fallback_total",
} as const;

export interface SelectorConfig {
  /** The label that carries the revision id on scraped series. */
  revisionLabel: string;
  /** Extra matchers on every series, e.g. { namespace: "payments" }. */
  matchers?: Record<string, string>;
  /** The rate() window, e.g. 1m; at least a few scrape intervals. */
  window: string;
}

export const defaultSelectorConfig: SelectorConfig = { revisionLabel: "modelship_io_revision", window: "1m" };

/** A PromQL string literal. */
export function promString(s: string): string {
  return JSON.stringify(s);
}

function selector(cfg: SelectorConfig, revision: string, extra: Record<string, string> = {}): string {
  const all = { ...(cfg.matchers ?? {}), [cfg.revisionLabel]: revision, ...extra };
  return Object.entries(all)
    .map(([k, v]) => (v.startsWith("=~") ? `${k}=~${promString(v.slice(2))}` : `${k}=${promString(v)}`))
    .join(",");
}

const quantiles = { latencyP50: 0.5, latencyP95: 0.95, latencyP99: 0.99 } as const;

/**
 * The PromQL of a template for one revision, or undefined for metrics that do not come from Prometheus
 * (driftScore comes from the drift job's status). Ratios are 0/0 = NaN without traffic: no data.
 */
export function templateQuery(t: Template, revision: string, cfg: SelectorConfig): string | undefined {
  const w = cfg.window;
  switch (t.metric) {
    case "errorRate": {
      // Model server answers with 5xx: what the candidate model did, before the logger's fallback hides it.
      // A custom container has no model server of ours: the logger in front of it counts the 5xx it
      // answered plus the failures its fallback to stable hid from the client.
      const all = selector(cfg, revision);
      const errors = selector(cfg, revision, { code: "=~5.." });
      const logged = (extra: Record<string, string>) =>
        `sum(rate(${metricNames.loggerRequests}{${selector(cfg, revision, { kind: "infer", ...extra })}}[${w}]))`;
      const hidden = `sum(rate(${metricNames.fallbacks}{${all}}[${w}]))`;
      // "or vector(0)": no 5xx series yet means no errors, while no traffic at all stays no data (empty).
      return `(sum(rate(${metricNames.requests}{${errors}}[${w}])) or ((${logged({ code: "=~5.." })} or vector(0)) + (${hidden} or vector(0)))) / (sum(rate(${metricNames.requests}{${all}}[${w}])) or ${logged({})})`;
    }
    case "latencyP50":
    case "latencyP95":
    case "latencyP99": {
      const served = `sum by (le) (rate(${metricNames.requestSeconds}_bucket{${selector(cfg, revision)}}[${w}]))`;
      const logged = `sum by (le) (rate(${metricNames.loggerRequestSeconds}_bucket{${selector(cfg, revision, { kind: "infer" })}}[${w}]))`;
      return `histogram_quantile(${quantiles[t.metric]}, ${served} or ${logged})`;
    }
    case "fallbackRate":
      // Requests retried on stable, per inference request: serve counts both itself (built-in pods), the
      // logger for a custom container; a revision has one or the other.
      return `(sum(rate(${metricNames.fallbacks}{${selector(cfg, revision)}}[${w}])) or vector(0)) / (sum(rate(${metricNames.requests}{${selector(cfg, revision)}}[${w}])) or sum(rate(${metricNames.loggerRequests}{${selector(cfg, revision, { kind: "infer" })}}[${w}])))`;
    case "custom":
      return (t.query ?? "").replaceAll("{{revision}}", revision);
    case "driftScore":
      return undefined;
  }
}
