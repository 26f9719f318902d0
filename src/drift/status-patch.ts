// Pure builders for what a drift run writes into the cluster: the ModelDeployment /status apply patch
// (status.drift and the DriftDetected condition, owned by the `modelship-drift` field manager) and a
// Kubernetes Event.
import type { DriftReport } from "./report.js";

export const DRIFT_FIELD_MANAGER = "modelship-drift";
export const CONDITION_TYPE = "DriftDetected";
export const REASON_DRIFT = "DriftDetected";
export const REASON_NO_DRIFT = "NoDriftDetected";
export const REASON_FAILED = "EvaluationFailed";
const MAX_FEATURES = 16;

export interface CurrentObject {
  generation?: number;
  condition?: { status: string; lastTransitionTime: string };
}

export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

function truncate(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 3)}...`;
}

export function conditionFor(report: DriftReport, current: CurrentObject, now: Date): Condition {
  const status = report.verdict === "drift" ? "True" : report.verdict === "ok" ? "False" : "Unknown";
  const reason =
    report.verdict === "drift" ? REASON_DRIFT : report.verdict === "ok" ? REASON_NO_DRIFT : REASON_FAILED;
  const message = truncate(
    report.reasons.join("; ") || `no drift in ${report.window.since} .. ${report.window.until}`,
    4096,
  );
  // lastTransitionTime moves only when the status flips.
  const lastTransitionTime =
    current.condition && current.condition.status === status
      ? current.condition.lastTransitionTime
      : now.toISOString();
  return {
    type: CONDITION_TYPE,
    status,
    reason,
    message,
    lastTransitionTime,
    ...(current.generation !== undefined ? { observedGeneration: current.generation } : {}),
  };
}

/** Top findings for status.drift.features: drifted first, then by PSI. */
export function topFindings(report: DriftReport) {
  const all = [...report.features, ...(report.prediction ? [report.prediction] : [])].filter(
    (f) => f.psi !== undefined && !Number.isNaN(f.psi),
  );
  all.sort((a, b) => Number(b.verdict === "drift") - Number(a.verdict === "drift") || b.psi! - a.psi!);
  return all.slice(0, MAX_FEATURES).map((f) => ({
    name: truncate(f.name, 128),
    statistic: "psi",
    value: Number(f.psi!.toFixed(6)),
    drifted: f.verdict === "drift",
  }));
}

export function buildStatusPatch(
  report: DriftReport,
  target: { namespace: string; name: string },
  current: CurrentObject,
  now: Date,
  reportRef?: string,
) {
  const headline = report.reasons[0] ?? (report.verdict === "ok" ? "no drift detected" : report.verdict);
  const message = truncate(headline, 1024);
  return {
    apiVersion: "modelship.io/v1alpha1",
    kind: "ModelDeployment",
    metadata: { name: target.name, namespace: target.namespace },
    status: {
      drift: {
        lastRun: report.generatedAt,
        verdict: report.verdict,
        score: Number(report.score.toFixed(6)),
        features: topFindings(report),
        message,
        ...(reportRef ? { reportRef: truncate(reportRef, 2048) } : {}),
      },
      conditions: [conditionFor(report, current, now)],
    },
  };
}

/** A core/v1 Event about the ModelDeployment; named uniquely per run so it can be created by apply. */
export function buildEvent(
  report: DriftReport,
  target: { namespace: string; name: string; uid?: string },
  now: Date,
) {
  const type = report.verdict === "ok" ? "Normal" : "Warning";
  const reason =
    report.verdict === "drift" ? REASON_DRIFT : report.verdict === "ok" ? REASON_NO_DRIFT : REASON_FAILED;
  const stamp = now.getTime().toString(16);
  return {
    apiVersion: "v1",
    kind: "Event",
    metadata: { name: `${target.name}.drift.${stamp}`, namespace: target.namespace },
    involvedObject: {
      apiVersion: "modelship.io/v1alpha1",
      kind: "ModelDeployment",
      name: target.name,
      namespace: target.namespace,
      ...(target.uid ? { uid: target.uid } : {}),
    },
    type,
    reason,
    message: truncate(report.reasons.join("; ") || "no drift detected", 1024),
    source: { component: DRIFT_FIELD_MANAGER },
    reportingComponent: DRIFT_FIELD_MANAGER,
    reportingInstance: DRIFT_FIELD_MANAGER,
    firstTimestamp: now.toISOString(),
    lastTimestamp: now.toISOString(),
    count: 1,
  };
}
