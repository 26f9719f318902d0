// Argo CD's health check for ModelDeployment (charts/modelship/files/argocd-health.lua), run on gopher-lua,
// Argo CD's Lua runtime, in the sandbox Argo CD gives a ConfigMap script (e2e/tools/argolua), against
// objects captured from the e2e cluster (testdata/gitops, written by `E2E_CAPTURE_FIXTURES=...
// npm run test:e2e -- kstatus`) and against the status desiredStatus writes. Skipped only without Go.
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { repoRoot } from "../testing/repo.js";
import { goTool, runTool } from "./testing/go-tools.js";
import { statusScenarios } from "./testing/status-scenarios.js";

type Health = { status: string; message: string };
const tool = goTool("argolua");
const script = join(repoRoot, "charts/modelship/files/argocd-health.lua");
const health = (obj: unknown) => runTool<Health>(tool.path!, [script], obj);
const fixtures = join(repoRoot, "src/controller/testdata/gitops");
const fixture = (name: string) => JSON.parse(readFileSync(join(fixtures, `${name}.json`), "utf8"));

const captured: [fixture: string, status: string, message: RegExp][] = [
  ["healthy", "Healthy", /2\/2 replicas of revision \w+ available/],
  ["progressing", "Progressing", /canary replicas available/],
  ["suspended", "Suspended", /paused at step 2\/2 until promoted/],
  ["degraded-progress-deadline", "Degraded", /ProgressDeadlineExceeded/],
  ["degraded-rolled-back", "Degraded", /rolled back \(Aborted\)/],
];
for (const [name, status, message] of captured) {
  test(`Argo CD health of a captured object, ${name}: ${status}`, { skip: tool.skip }, () => {
    const h = health(fixture(name));
    assert.equal(h.status, status, h.message);
    assert.match(h.message, message);
  });
}

test("every captured object is checked", () => {
  const files = readdirSync(fixtures).filter((f) => f.endsWith(".json"));
  assert.deepEqual(files.map((f) => f.replace(/\.json$/, "")).sort(), captured.map(([n]) => n).sort());
});

const fromStatus: [scenario: string, status: string][] = [
  ["done", "Healthy"],
  ["midCanary", "Progressing"],
  ["paused", "Suspended"],
  ["promoted", "Healthy"],
  ["rolledBack", "Degraded"],
  ["specProblem", "Degraded"],
  ["progressDeadline", "Degraded"],
  ["waitingForCapacity", "Progressing"],
  ["notObserved", "Progressing"],
];
const scenarios = statusScenarios();
for (const [scenario, status] of fromStatus) {
  test(`Argo CD health of desiredStatus, ${scenario}: ${status}`, { skip: tool.skip }, () => {
    const h = health(scenarios[scenario]);
    assert.equal(h.status, status, h.message);
    assert.notEqual(h.message, "", "says why");
  });
}

test(
  "Argo CD health before the controller wrote status, and of an older controller's status",
  { skip: tool.skip },
  () => {
    const md = fixture("healthy");
    assert.deepEqual(health({ ...md, status: undefined }), {
      status: "Progressing",
      message: "Waiting for the modelship controller to report status",
    });
    const unseen = { ...md, metadata: { ...md.metadata, generation: 7 } };
    assert.equal(health(unseen).message, "Waiting for the modelship controller to observe generation 7");
    // Without Reconciling and Stalled: Degraded and RolledBack still tell a failure, Ready the rest.
    const old = (conditions: object[]) => health({ ...md, status: { observedGeneration: 1, conditions } });
    assert.equal(
      old([{ type: "Ready", status: "True", reason: "Available", message: "2/2" }]).status,
      "Healthy",
    );
    assert.equal(
      old([{ type: "Ready", status: "False", reason: "ReplicasNotReady", message: "0/2" }]).status,
      "Progressing",
    );
    assert.equal(
      old([
        { type: "Ready", status: "True", reason: "Available", message: "2/2" },
        { type: "RolledBack", status: "True", reason: "AnalysisFailed", message: "error rate 0.2 > 0.05" },
      ]).status,
      "Degraded",
    );
  },
);
