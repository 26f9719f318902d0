import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { requestNonce, requestPatch } from "./request.js";
import { canaryMD, Sim } from "./testing/sim.js";
import { age, formatStatus } from "./view.js";

test("status shows steps with the current one marked, weights, analysis and history", () => {
  const sim = new Sim(
    canaryMD(
      [
        { setWeight: 20 },
        { analysis: { templates: ["errors"] } },
        { setHeaderRoute: { match: [{ name: "x-cohort", value: "beta" }] } },
        { pause: {} },
      ],
      {},
      { analysis: [{ name: "errors", metric: "errorRate", max: 0.05, count: 2 }] },
    ),
  ).settle();
  sim.release("v2");
  sim.decide();
  sim.decide();
  sim.measure("errors", 0.2).decide();
  // the controller's part of status, as it would write it
  sim.md.status!.traffic = "stable 80 / canary 20";
  sim.md.status!.revisions = [
    { name: sim.idOf("v1"), role: "stable", modelVersion: "v1", replicas: 4, readyReplicas: 4, weight: 80 },
    { name: sim.idOf("v2"), role: "canary", modelVersion: "v2", replicas: 1, readyReplicas: 1, weight: 20 },
  ];
  const text = formatStatus(sim.md, sim.now);
  assert.match(text, /Name: +payments\/fraud/);
  assert.match(text, /Phase: +Progressing/);
  assert.match(text, /Traffic: +stable 80 \/ canary 20/);
  assert.match(text, /Steps \(at 2\/4\):/);
  assert.match(text, /✓ +1\. setWeight 20%/);
  assert.match(text, /▶ +2\. analysis errors/);
  assert.match(text, / +3\. setHeaderRoute x-cohort=beta/);
  assert.match(text, /4\. pause \(until promoted\)/);
  assert.match(text, /errors +\S+ +0\.200 +- +Failed +0\.2000 > max 0\.05000/);
  assert.match(text, new RegExp(`${sim.idOf("v2")} +canary +v2 +1/1 +20%`));
  assert.match(text, /Progressing +True +AnalysisRunning/);
  assert.match(text, /History:/);

  sim.request("abort").decide();
  const after = formatStatus(sim.md, sim.now);
  assert.match(after, /Phase: +RolledBack/);
  assert.match(after, /Rolled back: \S+ \(Aborted\)/);
  assert.match(after, /modelship retry fraud -n payments/);
});

test("status shows the last drift run: verdict, drifted features, message and where the report is", () => {
  const sim = new Sim(canaryMD([{ setWeight: 20 }])).settle();
  sim.md.status!.drift = {
    lastRun: "2026-01-01T01:00:00.000Z",
    verdict: "drift",
    score: 0.25,
    features: [
      { name: "amount", statistic: "psi", value: 0.4, drifted: true },
      { name: "country", statistic: "psi", value: 0.05, drifted: false },
    ],
    message: "1 of 4 features drifted",
    reportRef: "http://collector:9090/v1/reports/fraud/20260101T010000.000Z-abcdef",
  };
  const text = formatStatus(sim.md, sim.now);
  assert.match(text, /Drift: drift \(score 0\.250\) at 2026-01-01T01:00:00\.000Z/);
  assert.match(text, /Drifted: amount \(psi 0\.400\)\n/);
  assert.doesNotMatch(text, /country/);
  assert.match(text, /1 of 4 features drifted/);
  assert.match(text, /Report: http:\/\/collector:9090\/v1\/reports\/fraud\//);
});

test("age is kubectl-like", () => {
  const now = new Date("2026-01-02T00:00:00Z");
  assert.equal(age("2026-01-01T23:59:15Z", now), "45s");
  assert.equal(age("2026-01-01T23:00:00Z", now), "60m");
  assert.equal(age("2026-01-01T00:00:00Z", now), "24h");
  assert.equal(age("2025-12-20T00:00:00Z", now), "13d");
  assert.equal(age(undefined, now), "-");
});

test("request nonces differ every time; full: marks a full promotion", () => {
  const now = new Date("2026-01-01T00:00:00Z");
  const a = requestNonce(now);
  const b = requestNonce(now);
  assert.notEqual(a, b);
  assert.match(requestNonce(now, true), /^full:2026-01-01T00:00:00.000Z-[0-9a-f]{8}$/);
  assert.deepEqual(requestPatch("abort", "x"), { metadata: { annotations: { "modelship.io/abort": "x" } } });
});

test("the control commands need a NAME (usage error, exit 2) and report a bad kubeconfig (exit 1)", () => {
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, ["--import", "tsx", "bin/dev.ts", ...args], {
      encoding: "utf8",
      timeout: 120_000,
      env: { ...process.env, KUBECONFIG: "/nonexistent/kubeconfig" },
    });
  for (const cmd of ["status", "promote", "abort", "retry"]) {
    const r = cli(cmd);
    assert.equal(r.status, 2, `${cmd}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`needs the ModelDeployment's NAME: modelship ${cmd} NAME`));
  }
  const two = cli("promote", "a", "b");
  assert.equal(two.status, 2);
  assert.match(two.stderr, /takes one NAME/);
  const badOutput = cli("status", "fraud", "-o", "yaml");
  assert.equal(badOutput.status, 2);
  assert.match(badOutput.stderr, /--output must be text or json/);
  const noConfig = cli("abort", "fraud", "-n", "payments");
  assert.equal(noConfig.status, 1);
  assert.match(noConfig.stderr, /modelship abort: .*nonexistent/);
});

test("status names a multi-model endpoint's additional models and their versions", () => {
  const one = canaryMD([{ setWeight: 50 }]);
  assert.doesNotMatch(formatStatus(one), /Also serves:/);
  const multi = canaryMD([{ setWeight: 50 }], {
    additionalModels: [
      { name: "lookup", version: "8", uri: "pvc://store/lookup/8/model.onnx" },
      { name: "iris", version: "2.0.0", uri: "pvc://store/iris/2.0.0/model.onnx" },
    ],
  });
  assert.match(formatStatus(multi), /Also serves: +lookup 8, iris 2\.0\.0/);
});
