import type { ModelDeployment } from "../api/v1alpha1/index.js";
import type { Book } from "../rollout/book.js";
import { templatesDue } from "../rollout/due.js";
import type { AnalysisMeasurement } from "../rollout/types.js";
import { templateQuery, type SelectorConfig } from "./promql.js";
import type { PrometheusClient } from "./prometheus.js";

export interface MeasureInput {
  md: ModelDeployment;
  templates: string[];
  candidate: string;
  stable?: string;
  now: Date;
}

export interface MeasureResult {
  measurements: AnalysisMeasurement[];
  /** Queries that failed; their measurements carry no value (inconclusive). */
  errors: { template: string; message: string }[];
}

/**
 * Takes one measurement of each template for the candidate (and for stable when the template compares
 * against it). A failing query is reported and measured as no data, so a Prometheus outage pauses a rollout
 * as inconclusive instead of failing it. driftScore reads the drift job's latest score from status.drift, when
 * that run finished after the analysis began (an older score is about stable's traffic: no data).
 */
export async function measureTemplates(
  prom: PrometheusClient,
  input: MeasureInput,
  cfg: SelectorConfig,
): Promise<MeasureResult> {
  const { md, now } = input;
  const errors: MeasureResult["errors"] = [];
  const time = now.toISOString();
  const measurements = await Promise.all(
    input.templates.map(async (name): Promise<AnalysisMeasurement> => {
      const t = (md.spec.rollout.analysis ?? []).find((a) => a.name === name);
      if (!t) {
        errors.push({ template: name, message: `analysis template ${name} is not in spec.rollout.analysis` });
        return { template: name, time };
      }
      if (t.metric === "driftScore") {
        // Only a drift run since this analysis began speaks about the candidate's traffic.
        const drift = md.status?.drift;
        const since = (md.status?.rollout as Book | undefined)?.analysis?.startedAt;
        const fresh =
          drift?.score !== undefined &&
          (since === undefined ||
            (drift.lastRun !== undefined && Date.parse(drift.lastRun) >= Date.parse(since)));
        return { template: name, time, ...(fresh ? { value: drift.score } : {}) };
      }
      const one = async (revision: string): Promise<number | undefined> => {
        const q = templateQuery(t, revision, { ...cfg, window: windowFor(t.interval, cfg.window) });
        if (q === undefined) return undefined;
        try {
          return await prom.queryNumber(q, now);
        } catch (err) {
          errors.push({ template: name, message: (err as Error).message });
          return undefined;
        }
      };
      const [value, stableValue] = await Promise.all([
        one(input.candidate),
        t.maxRelativeToStable !== undefined && input.stable !== undefined ? one(input.stable) : undefined,
      ]);
      return {
        template: name,
        time,
        ...(value !== undefined ? { value } : {}),
        ...(stableValue !== undefined ? { stableValue } : {}),
      };
    }),
  );
  return { measurements, errors };
}

/**
 * What the controller calls before decide(): the templates due now (from status.rollout), measured for the
 * candidate in status.canaryRevision against status.stableRevision. Nothing due -> no queries.
 */
export async function measureDue(
  prom: PrometheusClient,
  md: ModelDeployment,
  now: Date,
  cfg: SelectorConfig,
): Promise<MeasureResult> {
  const templates = templatesDue(md, now);
  const candidate = md.status?.canaryRevision;
  if (templates.length === 0 || candidate === undefined) return { measurements: [], errors: [] };
  return measureTemplates(
    prom,
    {
      md,
      templates,
      candidate,
      ...(md.status?.stableRevision ? { stable: md.status.stableRevision } : {}),
      now,
    },
    cfg,
  );
}

/** The rate window: the template's interval, but never shorter than the configured minimum. */
export function windowFor(interval: string, min: string): string {
  return toSeconds(interval) >= toSeconds(min) ? interval : min;
}

function toSeconds(d: string): number {
  const m = /^([0-9]+)(ms|s|m|h)$/.exec(d);
  if (!m) return 0;
  const n = Number(m[1]);
  return m[2] === "ms" ? n / 1000 : m[2] === "s" ? n : m[2] === "m" ? n * 60 : n * 3600;
}
