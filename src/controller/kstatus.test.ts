// The status desiredStatus writes, judged by the real kstatus library (sigs.k8s.io/cli-utils, what Flux,
// kpt and cli-utils' apply wait on) through e2e/tools/kstatus: InProgress while a canary walks its steps
// or is paused, Current when the desired revision serves all traffic, Failed when it cannot progress.
// The same for objects captured from the e2e cluster (testdata/gitops). Skipped only without Go.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { repoRoot } from "../testing/repo.js";
import { goTool, runTool } from "./testing/go-tools.js";
import { statusScenarios } from "./testing/status-scenarios.js";

const tool = goTool("kstatus");
const scenarios = statusScenarios();

const expected: [scenario: string, status: string, message: RegExp][] = [
  ["done", "Current", /ready/i],
  ["midCanary", "InProgress", /canary replicas available/],
  ["paused", "InProgress", /paused at step 2\/3 until promoted/],
  ["promoted", "Current", /ready/i],
  ["rolledBack", "Failed", /rolled back \(PodsFailed\)/],
  ["specProblem", "Failed", /PersistentVolumeClaim/],
  ["progressDeadline", "Failed", /after 60s without progress/],
  ["waitingForCapacity", "InProgress", /Insufficient nvidia.com\/gpu/],
  ["notObserved", "InProgress", /generation is 2, but latest observed generation is 1/],
];

for (const [scenario, status, message] of expected) {
  test(`kstatus: ${scenario} -> ${status}`, { skip: tool.skip }, () => {
    const r = runTool<{ status: string; message: string }>(tool.path!, [], scenarios[scenario]);
    assert.equal(r.status, status, `${scenario}: ${r.message}`);
    assert.match(r.message, message);
  });
}

test("kstatus: every scenario is judged (none left out of the table)", () => {
  assert.deepEqual(Object.keys(scenarios).sort(), expected.map(([s]) => s).sort());
});

const captured: [fixture: string, status: string][] = [
  ["healthy", "Current"],
  ["progressing", "InProgress"],
  ["suspended", "InProgress"],
  ["degraded-progress-deadline", "Failed"],
  ["degraded-rolled-back", "Failed"],
];
for (const [name, status] of captured) {
  test(`kstatus of a captured object, ${name}: ${status}`, { skip: tool.skip }, () => {
    const md = JSON.parse(
      readFileSync(join(repoRoot, "src/controller/testdata/gitops", `${name}.json`), "utf8"),
    );
    const r = runTool<{ status: string; message: string }>(tool.path!, [], md);
    assert.equal(r.status, status, r.message);
  });
}
