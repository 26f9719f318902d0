// A throw-away namespace per test file, so tests never see each other's objects.
import { randomBytes } from "node:crypto";
import { kubectl } from "./exec.js";
import { clusterEnv, type ClusterEnv } from "./env.js";
import { createModelStore, deleteModelStore } from "./model-store.js";

export interface TestNamespace {
  name: string;
  /** Deletes the namespace without waiting for its contents to go. */
  delete(): Promise<void>;
}

/**
 * Pods of a simulated namespace go to kwok's fake nodes (they never run; tests steer them with
 * the fault labels of e2e/cluster/kwok/stages.yaml); those of a real one run on the real node.
 * The API server's PodNodeSelector and PodTolerationRestriction plugins apply the annotations.
 */
export const simulatedNamespaceAnnotations = {
  "scheduler.alpha.kubernetes.io/node-selector": "type=kwok",
  "scheduler.alpha.kubernetes.io/defaultTolerations": JSON.stringify([
    { key: "modelship.io/simulated", operator: "Exists", effect: "NoSchedule" },
  ]),
};

export async function createNamespace(
  prefix: string,
  env: ClusterEnv = clusterEnv(),
  {
    pods = "simulated",
    modelStore = env.bundled,
  }: { pods?: "simulated" | "real"; modelStore?: boolean } = {},
): Promise<TestNamespace> {
  const name = `e2e-${prefix}-${randomBytes(3).toString("hex")}`;
  await kubectl(["create", "namespace", name], {}, env);
  await kubectl(["label", "namespace", name, "modelship.io/e2e=true"], {}, env);
  if (pods === "simulated")
    await kubectl(
      [
        "annotate",
        "namespace",
        name,
        ...Object.entries(simulatedNamespaceAnnotations).map(([k, v]) => `${k}=${v}`),
      ],
      {},
      env,
    );
  // The bundled cluster's PVC "model-store" (scripts/model-store.sh), so the examples' pvc:// uris resolve.
  if (modelStore) await createModelStore(name, env);
  return {
    name,
    async delete() {
      if (process.env.E2E_KEEP_NAMESPACES === "1") return;
      if (modelStore) await deleteModelStore(name, env);
      await kubectl(
        ["delete", "namespace", name, "--wait=false", "--ignore-not-found"],
        { allowFailure: true },
        env,
      );
    },
  };
}
