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
import { parseMD } from "../rollout/testing/sim.js";
import { servingV1, statusScenarios, StatusSim } from "./testing/status-scenarios.js";

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

// kstatus conventions (Ready, Reconciling, Stalled) through a canary's life; statusScenarios() runs the
// controller's reconcile (decide -> render -> desiredStatus) over the rollout simulator.
const scenarios = statusScenarios();
const kstatusTable: [string, [ready: string, reconciling: string, stalled: string], reason: string][] = [
  ["done", ["True", "False", "False"], "Available"],
  ["midCanary", ["False", "True", "False"], "WaitingForReplicas"],
  ["paused", ["False", "True", "False"], "RolloutPaused"],
  ["promoted", ["True", "False", "False"], "Available"],
  ["rolledBack", ["False", "False", "True"], "PodsFailed"],
  ["specProblem", ["False", "False", "True"], "PVCNotFound"],
  ["progressDeadline", ["False", "False", "True"], "ProgressDeadlineExceeded"],
  ["waitingForCapacity", ["False", "True", "False"], "InsufficientGPU"],
];
for (const [name, [ready, reconciling, stalled], reason] of kstatusTable) {
  test(`kstatus conditions, ${name}: Ready ${ready}, Reconciling ${reconciling}, Stalled ${stalled} (${reason})`, () => {
    const o = scenarios[name]!;
    const c = (type: string) => o.status.conditions?.find((x) => x.type === type);
    assert.deepEqual(
      [c("Ready")?.status, c("Reconciling")?.status, c("Stalled")?.status],
      [ready, reconciling, stalled],
    );
    const telling =
      [c("Stalled"), c("Reconciling"), c("Ready")].find((x) => x?.status === "True") ?? c("Ready");
    assert.equal(telling?.reason, reason);
    assert.ok(telling?.message || reason === "Available", "a True condition says why");
  });
}

test("kstatus conditions: Reconciling and Stalled never True together; observedGeneration on status and conditions", () => {
  for (const [name, o] of Object.entries(scenarios)) {
    if (name === "notObserved") continue; // the controller has not written this generation's status yet
    const c = (type: string) => o.status.conditions?.find((x) => x.type === type);
    assert.ok(!(c("Reconciling")?.status === "True" && c("Stalled")?.status === "True"), name);
    assert.equal(o.status.observedGeneration, o.metadata.generation, name);
    for (const type of ["Ready", "Reconciling", "Stalled", "Degraded"])
      assert.equal(c(type)?.observedGeneration, o.metadata.generation, `${name}: ${type}`);
    if (name !== "specProblem")
      for (const x of o.status.conditions ?? [])
        assert.equal(x.observedGeneration, o.metadata.generation, `${name}: ${x.type}`);
  }
});

test("a candidate in flight keeps Ready False even though stable serves; the promotion makes it True", () => {
  const s = servingV1();
  assert.equal(s.condition("Ready")?.status, "True");
  s.sim.release("v2");
  s.reconcile();
  assert.equal(s.condition("Ready")?.status, "False");
  assert.equal(s.condition("Ready")?.reason, "RolloutInProgress");
  assert.match(s.condition("Ready")?.message ?? "", /is rolling out/);
  assert.equal(s.status.modelVersion, "v1", "v1 still serves");
  s.settle();
  assert.equal(s.condition("Paused")?.status, "True");
  s.sim.request("promote");
  s.settle(6);
  assert.equal(s.status.modelVersion, "v2");
  assert.equal(s.condition("Ready")?.status, "True");
  assert.equal(s.condition("Reconciling")?.status, "False");
});

test("rolling: Ready False while the new revision comes up (the old one serves), True once it took over", () => {
  const md = parseMD({
    apiVersion: "modelship.io/v1alpha1",
    kind: "ModelDeployment",
    metadata: { name: "fraud", namespace: "payments", generation: 1 },
    spec: {
      model: { name: "fraud", version: "v1", uri: "pvc://store/fraud/v1/model.onnx" },
      replicas: 2,
    },
  });
  const s = new StatusSim(md).settle();
  assert.equal(s.condition("Ready")?.status, "True");
  s.sim.health.set("v2", "pending");
  s.sim.release("v2");
  s.reconcile().reconcile();
  assert.equal(s.condition("Ready")?.status, "False");
  assert.equal(s.condition("Ready")?.reason, "RolloutInProgress");
  assert.equal(s.condition("Reconciling")?.status, "True");
  assert.equal(s.condition("Stalled")?.status, "False");
  s.sim.health.set("v2", "ready");
  s.settle();
  assert.equal(s.status.modelVersion, "v2");
  assert.equal(s.condition("Ready")?.status, "True");
  assert.equal(s.condition("Reconciling")?.status, "False");
});

test("scaling: Reconciling True until the stable Deployment has the planned replicas", () => {
  const s = servingV1();
  s.sim.md.spec.replicas = 2;
  s.sim.md.metadata.generation = 2;
  s.reconcile(); // the Deployment still has 4: more than enough available, but not yet the planned size
  assert.equal(s.condition("Ready")?.status, "True");
  assert.equal(s.condition("Reconciling")?.status, "True");
  assert.equal(s.condition("Reconciling")?.reason, "ScalingReplicas");
  s.reconcile();
  assert.equal(s.condition("Reconciling")?.status, "False");
  s.sim.md.spec.replicas = 6;
  s.sim.md.metadata.generation = 3;
  s.sim.health.set("v1", "pending");
  s.reconcile().reconcile();
  assert.equal(s.condition("Ready")?.status, "False");
  assert.equal(s.condition("Reconciling")?.status, "True");
  assert.equal(s.condition("Stalled")?.status, "False");
});

test("failing pods of the serving revision: Stalled with the pod's reason", () => {
  const s = servingV1();
  s.sim.health.set("v1", "failing");
  s.sim.md.spec.replicas = 5;
  s.sim.md.metadata.generation = 2;
  s.reconcile().reconcile();
  assert.equal(s.condition("Degraded")?.status, "True");
  assert.equal(s.condition("Stalled")?.status, "True");
  assert.match(s.condition("Stalled")?.message ?? "", /crash looping/);
  assert.equal(s.condition("Reconciling")?.status, "False");
});

test("lastTransitionTime of Reconciling moves only when it flips", () => {
  const s = servingV1();
  s.sim.health.set("v2", "pending");
  s.sim.release("v2");
  s.reconcile();
  const since = s.condition("Reconciling")?.lastTransitionTime;
  s.sim.advance(5_000);
  s.reconcile();
  assert.equal(s.condition("Reconciling")?.status, "True");
  assert.equal(s.condition("Reconciling")?.lastTransitionTime, since);
});

test("scaled to zero, Ready says which requests wake the model: the interceptor's address, the Gateway, or metrics", () => {
  const zero = (mutate: (m: ModelDeployment) => void) => {
    const m = md();
    m.spec.replicas = 0;
    m.spec.autoscaling = { minReplicas: 0, maxReplicas: 3, concurrency: 4, cooldownSeconds: 300 };
    mutate(m);
    const s = statusFor(m, [observed("aaa", m, 0, { replicas: 0 })]);
    const ready = cond(s, "Ready")!;
    assert.equal(ready.reason, "ScaledToZero");
    assert.equal(ready.status, "True");
    return ready.message;
  };
  assert.match(
    zero(() => {}),
    /KEDA's interceptor \(http:\/\/keda-add-ons-http-interceptor-proxy\.keda:8080, Host: iris\.ml\).*straight to its Service fail/,
  );
  assert.match(
    zero(
      (m) => (m.spec.traffic = { ...m.spec.traffic, provider: "gatewayAPI", parentRefs: [{ name: "gw" }] }),
    ),
    /a request through the Gateway wakes it/,
  );
  assert.match(
    zero((m) => {
      m.spec.autoscaling!.activation = "metrics";
      m.spec.autoscaling!.prometheusAddress = "http://p:9090";
    }),
    /traffic metrics wake it, and requests fail until a pod is ready/,
  );
});
