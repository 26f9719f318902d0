// Pure builders for what a batch run writes into the cluster: status.batch.lastRun of its
// ModelDeployment (owned by the `modelship-batch` field manager) and a Kubernetes Event per run.
import type { BatchRunStatus } from "../api/v1alpha1/index.js";
import type { RunSummary } from "./summary.js";

export const BATCH_FIELD_MANAGER = "modelship-batch";
export const REASON_SUCCEEDED = "BatchSucceeded";
export const REASON_FAILED = "BatchFailed";

export interface Target {
  namespace: string;
  name: string;
}

function truncate(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 3)}...`;
}

/** A run that has started and not finished. */
export function runningRun(runId: string, shards: number, startedAt: string): BatchRunStatus {
  return { runId, outcome: "Running", shards, startedAt };
}

/** A finished run, or a failure known before the run could be summarised (counts then unknown). */
export function finishedRun(
  run: Partial<RunSummary> & Pick<RunSummary, "runId" | "outcome">,
): BatchRunStatus {
  return {
    runId: truncate(run.runId, 253),
    outcome: run.outcome,
    ...(run.shards !== undefined ? { shards: run.shards } : {}),
    ...(run.rows !== undefined ? { rows: run.rows } : {}),
    ...(run.predicted !== undefined ? { predicted: run.predicted } : {}),
    ...(run.rejected !== undefined ? { rejected: run.rejected } : {}),
    ...(run.startedAt !== undefined ? { startedAt: run.startedAt } : {}),
    ...(run.finishedAt !== undefined ? { finishedAt: run.finishedAt } : {}),
    ...(run.output !== undefined ? { output: truncate(run.output, 2048) } : {}),
    ...(run.rejects !== undefined ? { rejects: truncate(run.rejects, 2048) } : {}),
    ...(run.message !== undefined ? { message: truncate(run.message, 1024) } : {}),
  };
}

/** The apply patch: the whole lastRun, so fields an earlier run set and this one lacks are dropped. */
export function buildStatusPatch(target: Target, lastRun: BatchRunStatus) {
  return {
    apiVersion: "modelship.io/v1alpha1",
    kind: "ModelDeployment",
    metadata: { name: target.name, namespace: target.namespace },
    status: { batch: { lastRun } },
  };
}

/** A core/v1 Event about the finished run; named per run, so a repeated report replaces it. */
export function buildEvent(target: Target & { uid?: string }, lastRun: BatchRunStatus, now: Date) {
  const ok = lastRun.outcome === "Succeeded";
  const message = ok
    ? `batch run ${lastRun.runId}: ${lastRun.predicted ?? 0} of ${lastRun.rows ?? 0} rows predicted, ${lastRun.rejected ?? 0} rejected (${lastRun.rejects ?? "no rejects file"}), into ${lastRun.output ?? "?"}`
    : `batch run ${lastRun.runId} failed: ${lastRun.message ?? "unknown error"}`;
  const suffix = lastRun.runId.replace(/[^a-z0-9.-]/g, "-").slice(0, 100);
  return {
    apiVersion: "v1",
    kind: "Event",
    metadata: { name: `${target.name}.batch.${suffix}`, namespace: target.namespace },
    involvedObject: {
      apiVersion: "modelship.io/v1alpha1",
      kind: "ModelDeployment",
      name: target.name,
      namespace: target.namespace,
      ...(target.uid ? { uid: target.uid } : {}),
    },
    type: ok ? "Normal" : "Warning",
    reason: ok ? REASON_SUCCEEDED : REASON_FAILED,
    message: truncate(message, 1024),
    source: { component: BATCH_FIELD_MANAGER },
    reportingComponent: BATCH_FIELD_MANAGER,
    reportingInstance: BATCH_FIELD_MANAGER,
    firstTimestamp: now.toISOString(),
    lastTimestamp: now.toISOString(),
    count: 1,
  };
}
