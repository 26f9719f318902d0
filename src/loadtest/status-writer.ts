// The one edge where a load test talks to the API server: status.loadTest of its ModelDeployment, written
// through /status by server-side apply under its own field manager (the controller never writes the field).
import type { LoadTestStatus } from "../api/v1alpha1/index.js";
import type { KubeClient } from "../k8s/client.js";

export const LOADTEST_FIELD_MANAGER = "modelship-loadtest";

export interface Target {
  namespace: string;
  name: string;
}

/** The apply patch: the whole loadTest, so figures of an earlier run are dropped. */
export function buildStatusPatch(target: Target, loadTest: LoadTestStatus) {
  return {
    apiVersion: "modelship.io/v1alpha1",
    kind: "ModelDeployment",
    metadata: { name: target.name, namespace: target.namespace },
    status: {
      loadTest: { ...loadTest, ...(loadTest.message ? { message: loadTest.message.slice(0, 1024) } : {}) },
    },
  };
}

export async function writeLoadTestStatus(
  client: KubeClient,
  target: Target,
  loadTest: LoadTestStatus,
): Promise<void> {
  const path = `/apis/modelship.io/v1alpha1/namespaces/${encodeURIComponent(target.namespace)}/modeldeployments/${encodeURIComponent(target.name)}/status`;
  await client.apply(path, buildStatusPatch(target, loadTest), LOADTEST_FIELD_MANAGER);
}
