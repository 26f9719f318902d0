import assert from "node:assert/strict";
import { test } from "node:test";
import { parseModelDeployment, type ModelDeployment } from "../api/v1alpha1/index.js";
import { validBase } from "../api/v1alpha1/invalid-cases.js";
import { revisionSpecOf } from "../render/plan.js";
import { decide } from "../rollout/decide.js";
import type { ObservedRevision } from "../rollout/types.js";
import { observeRevision } from "./revisions.js";
import { desiredStatus } from "./status.js";
import { sameStatus } from "./reconciler.js";

const now = new Date("2026-01-01T00:00:00Z");

function md(): ModelDeployment {
  const r = parseModelDeployment({
    ...validBase(),
    metadata: { name: "iris", namespace: "ml", generation: 3, uid: "u1" },
  });
  if (!r.ok) throw new Error("invalid");
  r.value.spec.replicas = 2;
  return r.value;
}

function observed(
  id: string,
  m: ModelDeployment,
  ready: number,
  extra: Partial<ObservedRevision> = {},
): ObservedRevision {
  return {
    id,
    spec: revisionSpecOf(m.spec),
    replicas: 2,
    readyReplicas: ready,
    availableReplicas: ready,
    ...extra,
  };
}

function statusFor(
  m: ModelDeployment,
  obs: ObservedRevision[],
  problems: { reason: string; message: string }[] = [],
) {
  const decision = decide(
    {
      md: m,
      desired: { id: "aaa", spec: revisionSpecOf(m.spec) },
      observed: obs,
      measurements: [],
      requests: {},
    },
    now,
  );
  return desiredStatus({
    md: m,
    decision,
    rendered: [{ role: "stable", id: "aaa", deploymentName: "iris-aaa", replicas: 2, modelVersion: "1" }],
    observed: obs,
    problems,
    clusterDomain: "cluster.local",
    now: now.toISOString(),
  });
}

const cond = (s: ReturnType<typeof statusFor>, type: string) => s.conditions?.find((c) => c.type === type);

test("all replicas available -> Ready True, Degraded False, endpoint and selector set", () => {
  const m = md();
  const s = statusFor(m, [observed("aaa", m, 2)]);
  assert.equal(cond(s, "Ready")?.status, "True");
  assert.equal(cond(s, "Ready")?.reason, "Available");
  assert.equal(cond(s, "Degraded")?.status, "False");
  assert.equal(s.observedGeneration, 3);
  assert.equal(s.replicas, 2);
  assert.equal(s.readyReplicas, 2);
  assert.equal(s.selector, "modelship.io/deployment=iris");
  assert.equal(s.endpoint, "http://iris.ml.svc.cluster.local/v2/models/iris");
  assert.equal(s.modelVersion, "1");
  assert.equal(s.traffic, "stable 100");
});

test("pods crashing -> Ready False and Degraded True with the pod's reason", () => {
  const m = md();
  const s = statusFor(m, [
    observed("aaa", m, 0, {
      failed: { reason: "CrashLoopBackOff", message: "pod x container serve: back-off" },
    }),
  ]);
  assert.equal(cond(s, "Ready")?.status, "False");
  assert.equal(cond(s, "Degraded")?.status, "True");
  assert.equal(cond(s, "Degraded")?.reason, "PodsFailing");
  assert.match(cond(s, "Degraded")?.message ?? "", /back-off/);
});

test("a spec-level problem -> Degraded with the field named", () => {
  const m = md();
  const s = statusFor(
    m,
    [],
    [{ reason: "PVCNotFound", message: "spec.model.uri: PersistentVolumeClaim ml/x does not exist" }],
  );
  assert.equal(cond(s, "Degraded")?.reason, "PVCNotFound");
  assert.match(s.message ?? "", /spec\.model\.uri/);
});

test("an unchanged world yields an equal status (no write on resync)", () => {
  const m = md();
  const first = statusFor(m, [observed("aaa", m, 2)]);
  m.status = first;
  const second = statusFor(m, [observed("aaa", m, 2)]);
  assert.ok(sameStatus(first as Record<string, unknown>, second as Record<string, unknown>));
  const third = statusFor(m, [observed("aaa", m, 1)]);
  assert.ok(!sameStatus(first as Record<string, unknown>, third as Record<string, unknown>));
});

test("observeRevision reads the revision, its spec and pod failures", () => {
  const m = md();
  const dep = {
    metadata: {
      labels: { "modelship.io/revision": "abc" },
      annotations: { "modelship.io/revision-spec": JSON.stringify(revisionSpecOf(m.spec)) },
    },
    spec: { replicas: 2 },
    status: { readyReplicas: 1, availableReplicas: 1 },
  };
  const pending = {
    metadata: { name: "p1" },
    status: {
      phase: "Pending",
      conditions: [
        {
          type: "PodScheduled",
          status: "False",
          reason: "Unschedulable",
          message: "0/6 nodes are available: 3 Insufficient nvidia.com/gpu.",
        },
      ],
    },
  };
  const crashing = {
    metadata: { name: "p2" },
    status: {
      phase: "Running",
      containerStatuses: [
        { name: "serve", state: { waiting: { reason: "CrashLoopBackOff", message: "back-off 10s" } } },
      ],
    },
  };
  const r = observeRevision(dep, [pending, crashing]);
  assert.equal(r?.id, "abc");
  assert.equal(r?.spec.model.name, "iris");
  assert.match(r?.unschedulable?.message ?? "", /Insufficient nvidia.com\/gpu/);
  assert.equal(r?.failed?.reason, "CrashLoopBackOff");
  assert.equal(observeRevision({ metadata: {} }, []), undefined, "not a revision Deployment");
});
