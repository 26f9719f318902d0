// Seeded random walks through decide(): whatever pods do, whoever clicks what and whenever the spec changes,
// the decision keeps its invariants.
import assert from "node:assert/strict";
import { test } from "node:test";
import { seededRandom } from "../testing/onnx/builders.js";
import type { PodHealth } from "./testing/sim.js";
import { canaryMD, parseMD, Sim } from "./testing/sim.js";

const analysis = [
  { name: "errors", metric: "errorRate", max: 0.05, interval: "30s", count: 2 },
  {
    name: "lat",
    metric: "latencyP95",
    maxRelativeToStable: 1.5,
    interval: "1m",
    count: 1,
    inconclusiveLimit: 0,
  },
];

function scenario(kind: number, gpu: boolean): Sim {
  const resources = gpu ? { cpu: "1", memory: "2Gi", gpu: { count: 1 } } : undefined;
  if (kind === 2) {
    return new Sim(
      parseMD({
        apiVersion: "modelship.io/v1alpha1",
        kind: "ModelDeployment",
        metadata: { name: "fraud", namespace: "payments" },
        spec: {
          model: { name: "fraud", version: "v0", uri: "pvc://store/fraud/v0/model.onnx" },
          replicas: 3,
          ...(resources ? { resources } : {}),
          rollout: {
            strategy: "blueGreen",
            blueGreen: { autoPromoteAfterSeconds: 60, analysis: { templates: ["errors"] } },
            analysis,
            ...(gpu ? { maxSurgeGPUs: 3 } : {}),
          },
        },
      }),
    );
  }
  return new Sim(
    canaryMD(
      [
        { setWeight: 25 },
        { analysis: { templates: ["errors", "lat"] } },
        { setHeaderRoute: { match: [{ name: "x-cohort", value: "beta" }] } },
        { setMirror: { percent: 20 } },
        { setWeight: 60 },
        { pause: { duration: "2m" } },
        { pause: {} },
      ],
      {
        replicas: 4,
        ...(resources ? { resources } : {}),
        ...(kind === 1 ? { traffic: { provider: "istio" } } : {}),
        monitoring: {
          drift: { schedule: "0 * * * *", baselineUri: "pvc://store/b.json", action: "rollback" },
        },
      },
      { analysis, ...(gpu ? { maxSurgeGPUs: 1 } : {}), progressDeadlineSeconds: 300 },
    ),
  );
}

test("random walks keep the decision's invariants", () => {
  const healths: PodHealth[] = ["ready", "ready", "ready", "pending", "failing", "unschedulable"];
  for (let seed = 1; seed <= 60; seed++) {
    const rnd = seededRandom(seed);
    const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const kind = seed % 3;
    const gpu = seed % 4 === 0;
    const sim = scenario(kind, gpu).settle();
    let version = 0;
    for (let n = 0; n < 80; n++) {
      const r = rnd();
      if (r < 0.08) sim.release(`v${++version}`);
      else if (r < 0.16) sim.health.set(`v${version}`, pick(healths));
      else if (r < 0.22) sim.request(pick(["promote", "abort", "retry"] as const));
      else if (r < 0.25) sim.request("promote", `full:${n}`);
      else if (r < 0.4)
        for (const t of sim.last?.measure ?? [])
          sim.measure(t, rnd() < 0.2 ? 0.5 : rnd() < 0.1 ? undefined : 0.01, 0.01);
      else if (r < 0.43) sim.md.spec.replicas = 1 + Math.floor(rnd() * 8);
      else if (r < 0.45)
        sim.md.status!.drift = { verdict: "drift", lastRun: sim.now.toISOString(), score: 0.9 };
      else if (r < 0.47) sim.freeGPUs = Math.floor(rnd() * 3);
      sim.advance(Math.floor(rnd() * 90_000));
      const at = `seed ${seed} step ${n}`;
      const d = sim.decide();
      const p = d.plan;
      const N = sim.md.spec.replicas ?? 1;
      assert.equal(p.weights.stable + p.weights.canary, 100, at);
      assert.ok(p.weights.canary >= 0 && p.weights.canary <= 100, at);
      assert.equal(p.revisions.filter((x) => x.role === "stable").length, 1, at);
      assert.ok(
        p.revisions.every((x) => x.replicas >= 0 && Number.isInteger(x.replicas)),
        at,
      );
      const candidate = p.revisions.find((x) => x.role === "canary" || x.role === "preview");
      assert.equal(candidate !== undefined, d.status.canaryRevision !== undefined, at);
      if (!candidate) assert.equal(p.weights.canary, 0, at);
      if (!p.revisions.some((x) => x.role === "canary")) {
        assert.equal(p.headerRoute, undefined, at);
        assert.equal(p.mirror, undefined, at);
      }
      if (d.status.phase === "RolledBack") assert.equal(candidate, undefined, at);
      const planned = new Set(p.revisions.map((x) => sim.idOf(x.spec.model.version)));
      assert.ok(
        d.prune.every((id) => !planned.has(id)),
        `${at}: prunes a planned revision`,
      );
      assert.ok(d.status.stableRevision !== undefined, at);
      assert.equal(d.status.conditions.length, 4, at);
      if (gpu && kind !== 2 && d.status.canaryRevision) {
        // maxSurgeGPUs 1: stable and canary together never hold more than N + 1 GPUs
        const gpus = p.revisions.filter((x) => x.role !== "old").reduce((s, x) => s + x.replicas, 0);
        assert.ok(gpus <= N + 1, `${at}: ${gpus} GPUs for N=${N}`);
      }
    }
  }
});
