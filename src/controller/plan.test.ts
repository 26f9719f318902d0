import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { parseModelDeployment, type ModelDeployment } from "../api/v1alpha1/index.js";
import { validBase } from "../api/v1alpha1/invalid-cases.js";
import type { KubeObject } from "../k8s/client.js";
import { slimNode } from "../k8s/slim.js";
import { defaultRenderConfig } from "../render/config.js";
import { labelKeys } from "../render/labels.js";
import type { K8sObject } from "../render/object.js";
import { Reasons } from "./conditions.js";
import { environmentProblems, freeGPUsDuringRollout, planReconcile, toPrune } from "./plan.js";
import type { Snapshot } from "./snapshot.js";

const now = new Date("2026-01-01T00:00:00Z");
const cfg = defaultRenderConfig;

function md(spec: Record<string, unknown> = {}, status?: Record<string, unknown>): ModelDeployment {
  const base = validBase();
  const r = parseModelDeployment({
    ...base,
    metadata: { name: "iris", namespace: "ml", generation: 1, uid: "uid-1" },
    spec: { ...base.spec, ...spec },
    ...(status ? { status } : {}),
  });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.value;
}

function snapshot(m: ModelDeployment, extra: Partial<Snapshot> = {}): Snapshot {
  return {
    raw: m as unknown as KubeObject,
    md: m,
    owned: new Map(),
    pods: [],
    gpuPods: [],
    nodes: [],
    nodesSynced: true,
    availableKinds: new Set(["HTTPRoute", "ScaledObject"]),
    measurements: [],
    modelClaims: [],
    ...extra,
  };
}

/** What the API server would hold after applying `objects`, owned by the ModelDeployment; Deployments ready. */
function applied(m: ModelDeployment, objects: K8sObject[]): Map<string, KubeObject[]> {
  const owned = new Map<string, KubeObject[]>();
  for (const o of objects) {
    const live = structuredClone(o) as KubeObject & { spec?: { replicas?: number }; status?: unknown };
    live.metadata = {
      ...live.metadata,
      ownerReferences: [
        {
          apiVersion: "modelship.io/v1alpha1",
          kind: "ModelDeployment",
          name: "iris",
          uid: m.metadata.uid!,
          controller: true,
        },
      ],
    } as KubeObject["metadata"];
    if (o.kind === "Deployment") {
      const n = live.spec?.replicas ?? 1;
      live.status = { replicas: n, readyReplicas: n, availableReplicas: n, updatedReplicas: n };
    }
    owned.set(o.kind!, [...(owned.get(o.kind!) ?? []), live]);
  }
  return owned;
}

test("a new ModelDeployment: its Deployment, Services and the rest are rendered, nothing to prune", () => {
  const m = md();
  const s = snapshot(m);
  const p = planReconcile(s, cfg, now);
  assert.deepEqual(p.problems, []);
  const kinds = p.objects.map((o) => o.kind);
  assert.ok(kinds.includes("Deployment") && kinds.includes("Service"), kinds.join(","));
  assert.equal(p.observed.length, 0);
  assert.deepEqual(toPrune(s, p.objects, p.decision), []);
});

test("the next reconcile, over what the first applied: the revision is stable and kept, nothing to prune", () => {
  const m = md();
  const first = planReconcile(snapshot(m), cfg, now);
  const s = snapshot(m, { owned: applied(m, first.objects) });
  const p = planReconcile(s, cfg, now);
  assert.equal(p.observed.length, 1);
  assert.equal(p.decision.status.stableRevision, p.observed[0]!.id);
  // The same children, plus the kept-revisions ConfigMap now that a revision was promoted.
  assert.deepEqual(
    p.objects.map((o) => `${o.kind}/${o.metadata?.name}`),
    [...first.objects.map((o) => `${o.kind}/${o.metadata?.name}`), "ConfigMap/iris-revisions"],
  );
  assert.deepEqual(toPrune(s, p.objects, p.decision), []);
});

test("a child no longer rendered is pruned; another revision's Deployment stays until the rollout lets it go", () => {
  const m = md();
  const first = planReconcile(snapshot(m), cfg, now);
  const owned = applied(m, first.objects);
  const stray = {
    ...structuredClone(owned.get("Service")![0]!),
    metadata: { ...owned.get("Service")![0]!.metadata, name: "iris-old" },
  };
  owned.get("Service")!.push(stray);
  const otherRevision = structuredClone(owned.get("Deployment")![0]!);
  otherRevision.metadata = {
    ...otherRevision.metadata,
    name: "iris-other",
    labels: { ...otherRevision.metadata?.labels, [labelKeys.revision]: "other" },
  };
  owned.get("Deployment")!.push(otherRevision);
  const s = snapshot(m, { owned });
  const p = planReconcile(s, cfg, now);
  const doomed = toPrune(s, p.objects, p.decision).map((o) => `${o.kind}/${o.metadata?.name}`);
  assert.ok(doomed.includes("Service/iris-old"), doomed.join(","));
  assert.equal(doomed.includes("Deployment/iris-other"), p.decision.prune.includes("other"));
});

test("a crash-looping pod of a revision that is not ready is read into the observed revision", () => {
  const m = md();
  const first = planReconcile(snapshot(m), cfg, now);
  const owned = applied(m, first.objects);
  const dep = owned.get("Deployment")![0]! as KubeObject & { status: { readyReplicas: number } };
  dep.status.readyReplicas = 0;
  const revision = dep.metadata?.labels?.[labelKeys.revision];
  const pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: "iris-abc",
      namespace: "ml",
      labels: { [labelKeys.deployment]: "iris", [labelKeys.revision]: revision },
    },
    status: {
      phase: "Running",
      containerStatuses: [
        {
          name: "serve",
          restartCount: 1,
          state: { waiting: { reason: "CrashLoopBackOff", message: "back-off" } },
        },
      ],
    },
  } as unknown as KubeObject;
  const p = planReconcile(snapshot(m, { owned, pods: [pod] }), cfg, now);
  assert.equal(p.observed[0]!.failed?.reason, "CrashLoopBackOff");
});

test("environment problems: a missing PVC, an uninstalled router, a GPU product nobody offers", () => {
  const pvc = md({ model: { name: "iris", version: "1", uri: "pvc://store/iris.onnx" } });
  assert.deepEqual(
    environmentProblems(
      snapshot(pvc, { modelClaims: [{ name: "store", field: "spec.model.uri", exists: false }] }),
    ).map((p) => p.reason),
    [Reasons.PVCNotFound],
  );
  assert.deepEqual(
    environmentProblems(
      snapshot(pvc, { modelClaims: [{ name: "store", field: "spec.model.uri", exists: true }] }),
    ),
    [],
  );
  // An additional model's claim is named by its own field.
  const second = environmentProblems(
    snapshot(pvc, {
      modelClaims: [
        { name: "store", field: "spec.model.uri", exists: true },
        { name: "other", field: "spec.additionalModels[0].uri", exists: false },
      ],
    }),
  );
  assert.equal(second.length, 1);
  assert.match(
    second[0]!.message,
    /^spec.additionalModels\[0\].uri: PersistentVolumeClaim ml\/other does not exist/,
  );

  const routed = md({ traffic: { provider: "gatewayAPI", parentRefs: [{ name: "gw" }] } });
  const noRouter = environmentProblems(snapshot(routed, { availableKinds: new Set() }));
  assert.equal(noRouter[0]?.reason, Reasons.ProviderNotInstalled);
  assert.match(noRouter[0]!.message, /^spec.traffic.provider: Gateway API/);

  const node = slimNode(
    JSON.parse(readFileSync(new URL("../k8s/testdata/node-gpu.json", import.meta.url), "utf8")),
  );
  const gpu = md({ resources: { cpu: "1", memory: "1Gi", gpu: { count: 1, product: "NVIDIA-B200" } } });
  const missing = environmentProblems(snapshot(gpu, { nodes: [node] }));
  assert.equal(missing[0]?.reason, Reasons.GPUProductUnavailable);
  assert.match(missing[0]!.message, /offered: NVIDIA-H100-80GB-HBM3/);
  // Until the Node cache has synced, say nothing rather than something wrong.
  assert.deepEqual(environmentProblems(snapshot(gpu, { nodes: [], nodesSynced: false })), []);
});

test("free GPUs during a GPU rollout: the node's allocatable less what bound pods of any namespace hold", () => {
  const node = slimNode(
    JSON.parse(readFileSync(new URL("../k8s/testdata/node-gpu.json", import.meta.url), "utf8")),
  );
  const holding = (n: number, ns: string) =>
    ({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: `p-${ns}`, namespace: ns },
      spec: {
        nodeName: node.metadata?.name,
        containers: [{ resources: { requests: { "nvidia.com/gpu": String(n) }, limits: {} } }],
      },
      status: { phase: "Running" },
    }) as unknown as KubeObject;
  const rolling = md(
    { resources: { cpu: "1", memory: "1Gi", gpu: { count: 1 } } },
    { stableRevision: "old" },
  );
  const s = snapshot(rolling, { nodes: [node], gpuPods: [holding(3, "ml"), holding(2, "team-b")] });
  assert.equal(freeGPUsDuringRollout(s, "new"), 8 - 3 - 2);
  // Not rolling (the stable revision is the desired one): no count at all.
  assert.equal(freeGPUsDuringRollout(s, "old"), undefined);
});
