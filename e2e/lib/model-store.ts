// The PVC "model-store" of a test namespace, made by the same script a user runs
// (scripts/model-store.sh): a read-only hostPath volume over .e2e/models, which holds the quick
// start's iris model, so pvc://model-store/iris/1.0.0/model.onnx resolves on the real node.
import { dirname, join } from "node:path";
import { clusterEnv, repoRoot, type ClusterEnv } from "./env.js";
import { kubectl, run } from "./exec.js";

export async function createModelStore(namespace: string, env: ClusterEnv = clusterEnv()): Promise<void> {
  const path = env.kubectl.includes("/") ? `${dirname(env.kubectl)}:${process.env.PATH}` : process.env.PATH;
  await run("bash", [join(repoRoot, "scripts/model-store.sh"), namespace], {
    env: { ...process.env, PATH: path, KUBECONFIG: env.kubeconfig },
    timeoutMs: 120_000,
  });
}

/** The PersistentVolume outlives its namespace; this removes it. */
export async function deleteModelStore(namespace: string, env: ClusterEnv = clusterEnv()): Promise<void> {
  await kubectl(
    ["delete", "pv", `model-store-${namespace}`, "--wait=false", "--ignore-not-found"],
    { allowFailure: true },
    env,
  );
}
