// The one edge where a drift run talks to the API server: reads the ModelDeployment (generation and the
// current DriftDetected condition), applies the status patch, and records an Event.
import { KubeClient, loadKubeConfig, type KubeObject } from "../k8s/client.js";
import type { Logger } from "../platform/log.js";
import type { DriftReport } from "./report.js";
import {
  buildEvent,
  buildStatusPatch,
  CONDITION_TYPE,
  DRIFT_FIELD_MANAGER,
  type CurrentObject,
} from "./status-patch.js";

export interface StatusTarget {
  namespace: string;
  name: string;
  kubeconfig?: string;
  reportRef?: string;
}

export async function writeDriftStatus(
  report: DriftReport,
  target: StatusTarget,
  log: Logger,
  now: Date,
): Promise<void> {
  const client = await KubeClient.create(loadKubeConfig(target.kubeconfig));
  const path = `/apis/modelship.io/v1alpha1/namespaces/${encodeURIComponent(target.namespace)}/modeldeployments/${encodeURIComponent(target.name)}`;
  const md = await client.get<
    KubeObject & { status?: { conditions?: { type: string; status: string; lastTransitionTime: string }[] } }
  >(path);
  const cond = md.status?.conditions?.find((c) => c.type === CONDITION_TYPE);
  const current: CurrentObject = { generation: md.metadata?.generation, condition: cond };
  await client.apply(
    `${path}/status`,
    buildStatusPatch(report, target, current, now, target.reportRef),
    DRIFT_FIELD_MANAGER,
  );
  log.info(
    { namespace: target.namespace, modelDeployment: target.name, verdict: report.verdict },
    "Updated ModelDeployment drift status",
  );
  const event = buildEvent(report, { ...target, uid: md.metadata?.uid }, now);
  try {
    await client.apply(
      `/api/v1/namespaces/${encodeURIComponent(target.namespace)}/events/${encodeURIComponent(event.metadata.name)}`,
      event,
      DRIFT_FIELD_MANAGER,
    );
  } catch (err) {
    // The status is what matters; a missing Event permission is logged, not fatal.
    log.warn({ err, namespace: target.namespace }, "Failed to create drift Event");
  }
}
