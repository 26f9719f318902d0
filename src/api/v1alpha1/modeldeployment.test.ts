import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import yaml from "js-yaml";
import { repoRoot } from "../../testing/repo.js";
import { invalidCases, validBase } from "./invalid-cases.js";
import { formatErrors, parseModelDeployment } from "./validate.js";

const examples = readdirSync(join(repoRoot, "examples")).filter((f) => f.endsWith(".yaml"));

test("every example is a valid ModelDeployment", () => {
  assert.ok(examples.length >= 5, "examples/ holds at least five ModelDeployments");
  for (const f of examples) {
    const r = parseModelDeployment(yaml.load(readFileSync(join(repoRoot, "examples", f), "utf8")));
    assert.ok(r.ok, `${f}: ${r.ok ? "" : formatErrors(r.errors)}`);
  }
});

test("defaults are applied on parse", () => {
  const r = parseModelDeployment(validBase());
  assert.ok(r.ok);
  assert.equal(r.value.spec.model.format, "onnx");
  assert.equal(r.value.spec.runtime.executionProvider, "cpu");
  assert.equal(r.value.spec.rollout.strategy, "rolling");
  assert.equal(r.value.spec.traffic.provider, "service");
  assert.equal(r.value.spec.logging.enabled, true);
  assert.equal(r.value.spec.logging.sampleRate, 1);
  assert.equal(r.value.spec.resources.memory, "2Gi");
});

test("the base object of the invalid table is itself valid", () => {
  const r = parseModelDeployment(validBase());
  assert.ok(r.ok, r.ok ? "" : formatErrors(r.errors));
});

for (const c of invalidCases) {
  test(`rejects: ${c.name}`, () => {
    const md = validBase();
    c.mutate(md);
    const r = parseModelDeployment(md);
    assert.equal(r.ok, false, "should be rejected");
    if (r.ok) return;
    const text = formatErrors(r.errors);
    assert.ok(text.includes(c.expect), `message should contain "${c.expect}", got:\n${text}`);
    assert.ok(
      r.errors.every((e) => e.field.length > 0),
      "every error names a field",
    );
  });
}

test("errors name the full field path", () => {
  const md = validBase();
  md.spec.autoscaling = { minReplicas: 5, maxReplicas: 2, cpuUtilization: 50 };
  const r = parseModelDeployment(md);
  assert.ok(!r.ok);
  assert.deepEqual(
    r.errors.map((e) => e.field),
    ["spec.autoscaling.minReplicas"],
  );
});
