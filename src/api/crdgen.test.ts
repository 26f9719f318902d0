import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import yaml from "js-yaml";
import { repoRoot } from "../testing/repo.js";
import { crdFileName, crdYAML, modelDeploymentCRD } from "./crdgen.js";
import { structuralErrors } from "./structural.js";

type Obj = Record<string, any>;

const crd = modelDeploymentCRD() as Obj;
const version = crd.spec.versions[0];
const schema = version.schema.openAPIV3Schema as Obj;

test("the generated schema is a structural schema", () => {
  assert.deepEqual(structuralErrors(schema), []);
});

test("the structural checker catches what the API server rejects", () => {
  assert.ok(
    structuralErrors({ type: "object", properties: { a: {} } }).some((e) => e.includes("type must be set")),
  );
  assert.ok(
    structuralErrors({
      type: "object",
      properties: { a: { type: "string" } },
      additionalProperties: { type: "string" },
    }).some((e) => e.includes("mutually exclusive")),
  );
  assert.ok(structuralErrors({ type: "object", $ref: "#/x" }).some((e) => e.includes('"$ref"')));
  assert.ok(structuralErrors({ type: "integer", default: "x" }).some((e) => e.includes("expected integer")));
  assert.ok(
    structuralErrors({ type: "string", anyOf: [{ type: "string" }] }).some((e) =>
      e.includes("inside a junctor"),
    ),
  );
});

test("the committed CRDs match the generator", () => {
  const text = crdYAML();
  for (const dir of ["crds", "charts/modelship/crds"]) {
    const committed = readFileSync(join(repoRoot, dir, crdFileName), "utf8");
    assert.equal(committed, text, `${dir}/${crdFileName} is stale: run npm run crds`);
  }
  assert.deepEqual(yaml.load(text), crd);
});

test("names, subresources and printer columns", () => {
  assert.equal(crd.metadata.name, "modeldeployments.modelship.io");
  assert.deepEqual(crd.spec.names.shortNames, ["md", "mdep"]);
  assert.deepEqual(crd.spec.names.categories, ["modelship"]);
  assert.deepEqual(version.subresources.scale, {
    specReplicasPath: ".spec.replicas",
    statusReplicasPath: ".status.replicas",
    labelSelectorPath: ".status.selector",
  });
  assert.deepEqual(
    version.additionalPrinterColumns.map((c: Obj) => c.name),
    ["Model", "Version", "Strategy", "Weights", "Ready", "Drift", "Age"],
  );
});

test("fields carry descriptions for kubectl explain, defaults are on the input side", () => {
  const model = schema.properties.spec.properties.model;
  assert.match(model.description, /model to serve/);
  assert.match(model.properties.uri.description, /pvc:\/\/CLAIM/);
  assert.equal(model.properties.format.default, "onnx");
  assert.equal(schema.properties.spec.properties.logging.properties.enabled.default, true);
  assert.deepEqual(model.required.sort(), ["name", "uri", "version"]);
});

test("cross-field rules are emitted as CEL with messages", () => {
  const rules: Obj[] = [];
  const walk = (n: Obj) => {
    if (!n || typeof n !== "object") return;
    for (const r of n["x-kubernetes-validations"] ?? []) rules.push(r);
    for (const v of Object.values(n.properties ?? {})) walk(v as Obj);
    if (n.items) walk(n.items);
  };
  walk(schema);
  const messages = rules.map((r) => r.message).join("\n");
  assert.match(messages, /minReplicas must be <= maxReplicas/);
  assert.match(messages, /either canary or blueGreen, not both/);
  assert.ok(rules.every((r) => typeof r.rule === "string" && r.rule.length > 0));
  assert.ok(rules.length >= 15, `found ${rules.length} rules`);
});
