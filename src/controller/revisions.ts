import type { KubeObject } from "../k8s/client.js";
import { labelKeys } from "../render/labels.js";
import type { RevisionSpec } from "../render/plan.js";
import { revisionSpecAnnotation } from "../render/workloads.js";
import type { ObservedRevision } from "../rollout/types.js";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const failingWaitReasons = new Set([
  "CrashLoopBackOff",
  "ErrImagePull",
  "ImagePullBackOff",
  "CreateContainerConfigError",
  "InvalidImageName",
  "RunContainerError",
]);

/**
 * The last line a failed container left as its termination message (the fetch init container's
 * "sha256 mismatch ... expected X, got Y"), or "" when it left none.
 */
function lastWords(cs: Obj): string {
  const message: string = cs.lastState?.terminated?.message ?? cs.state?.terminated?.message ?? "";
  return message.trim().split("\n").at(-1)?.trim() ?? "";
}

/** What a revision's Deployment (and, when it is not ready, its pods) say about it. Pure. */
export function observeRevision(dep: KubeObject, pods: KubeObject[]): ObservedRevision | undefined {
  const id = dep.metadata?.labels?.[labelKeys.revision];
  const raw = dep.metadata?.annotations?.[revisionSpecAnnotation];
  if (!id || !raw) return undefined;
  let spec: RevisionSpec;
  try {
    spec = JSON.parse(raw) as RevisionSpec;
  } catch {
    return undefined;
  }
  const d = dep as Obj;
  const status = d.status ?? {};
  const conditions: Obj[] = status.conditions ?? [];
  const rev: ObservedRevision = {
    id,
    spec,
    replicas: d.spec?.replicas ?? 0,
    readyReplicas: status.readyReplicas ?? 0,
    availableReplicas: status.availableReplicas ?? 0,
    ...(dep.metadata?.creationTimestamp ? { createdAt: dep.metadata.creationTimestamp } : {}),
  };
  const deadline = conditions.find(
    (c) => c.type === "Progressing" && c.status === "False" && c.reason === "ProgressDeadlineExceeded",
  );
  if (deadline)
    rev.failed = {
      reason: "ProgressDeadlineExceeded",
      message: deadline.message ?? "progress deadline exceeded",
    };
  const replicaFailure = conditions.find((c) => c.type === "ReplicaFailure" && c.status === "True");
  if (replicaFailure)
    rev.failed = { reason: replicaFailure.reason ?? "ReplicaFailure", message: replicaFailure.message ?? "" };
  for (const p of pods as Obj[]) {
    const name = p.metadata?.name;
    if (p.status?.phase === "Failed") {
      rev.failed ??= {
        reason: "PodFailed",
        message: `pod ${name} failed: ${p.status?.reason ?? ""} ${p.status?.message ?? ""}`.trim(),
      };
    }
    for (const cs of [
      ...(p.status?.initContainerStatuses ?? []),
      ...(p.status?.containerStatuses ?? []),
    ] as Obj[]) {
      const waiting = cs.state?.waiting;
      const said = lastWords(cs);
      if (waiting && failingWaitReasons.has(waiting.reason)) {
        rev.failed ??= {
          reason: waiting.reason,
          message: `pod ${name} container ${cs.name}: ${said || waiting.message || waiting.reason}`,
        };
      }
      const term = cs.state?.terminated ?? cs.lastState?.terminated;
      if (term && term.exitCode !== 0 && (cs.restartCount ?? 0) >= 3) {
        rev.failed ??= {
          reason: "ContainerCrashing",
          message: `pod ${name} container ${cs.name} exited ${term.exitCode} (${cs.restartCount} restarts)${said ? `: ${said}` : ""}`,
        };
      }
    }
    const sched = (p.status?.conditions ?? []).find(
      (c: Obj) => c.type === "PodScheduled" && c.status === "False",
    );
    if (p.status?.phase === "Pending" && sched?.reason === "Unschedulable") {
      rev.unschedulable ??= {
        reason: "Unschedulable",
        message: `pod ${name}: ${sched.message ?? "no node fits"}`,
      };
    }
  }
  return rev;
}
