// A namespace being deleted refuses new objects with 403. The namespace controller deletes a
// ModelDeployment's children in no particular order, so a reconcile can run in that window; the
// reconciler must recognise the refusal (isNamespaceTerminating) and stop, not retry with backoff.
// This checks the recognition against the real API server's answer. Run: npm run test:e2e -- namespace
import assert from "node:assert/strict";
import { test } from "node:test";
import { KubeClient, loadKubeConfig } from "../src/k8s/client.js";
import { isNamespaceTerminating } from "../src/k8s/errors.js";
import { clusterEnv, createNamespace, kubectl, kubectlJson, waitFor } from "./lib/index.js";

test(
  "Given a namespace held in Terminating, When anything is applied in it, Then the 403 is recognised as NamespaceTerminating",
  { timeout: 120_000 },
  async () => {
    const ns = await createNamespace("terminating");
    const client = await KubeClient.create(loadKubeConfig(clusterEnv().kubeconfig));
    const hold = "e2e.modelship.io/hold";
    const setFinalizers = (finalizers: string[] | null, opts: { allowFailure?: boolean } = {}) =>
      kubectl(
        [
          "patch",
          "configmap",
          "held",
          "-n",
          ns.name,
          "--type=merge",
          "-p",
          JSON.stringify({ metadata: { finalizers } }),
        ],
        opts,
      );
    try {
      // A finalizer keeps the namespace in Terminating until the test lets go.
      await kubectl(["create", "configmap", "held", "-n", ns.name]);
      await setFinalizers([hold]);
      await ns.delete();
      await waitFor("namespace Terminating", async () => {
        const n = await kubectlJson<{ status?: { phase?: string } }>(["get", "namespace", ns.name]);
        return n.status?.phase === "Terminating";
      });
      const cm = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "late", namespace: ns.name } };
      const err = await client
        .apply(`/api/v1/namespaces/${ns.name}/configmaps/late`, cm, "modelship-controller")
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      assert.ok(err, "the apply was refused");
      assert.ok(isNamespaceTerminating(err), `recognised: ${String(err)}`);
      // Other refusals (here a namespace mismatch) are not mistaken for it.
      const other = await client
        .apply(
          `/api/v1/namespaces/kube-system/configmaps/x`,
          { ...cm, metadata: { name: "x", namespace: "default" } },
          "m",
        )
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      assert.ok(other && !isNamespaceTerminating(other), String(other));
    } finally {
      await setFinalizers(null, { allowFailure: true });
      await client.close();
    }
  },
);
