// spec.additionalModels: one fetch init container per model, every model in serve's flags, and the
// revision id (the pod template's hash) moved by any model's change and by nothing else.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import yaml from "js-yaml";
import { parseModelDeployment, type ModelDeployment } from "../api/v1alpha1/index.js";
import { repoRoot } from "../testing/repo.js";
import { defaultRenderConfig } from "./config.js";
import { revisionSpecOf } from "./plan.js";
import { revisionOf } from "./revision.js";

type Obj = Record<string, any>;

function example(file: string, edit: (raw: Obj) => void = () => {}): ModelDeployment {
  const raw = yaml.load(readFileSync(join(repoRoot, "examples", file), "utf8")) as Obj;
  edit(raw);
  const r = parseModelDeployment(raw);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.value;
}

const idOf = (md: ModelDeployment) => revisionOf(md, defaultRenderConfig, revisionSpecOf(md.spec)).id;

test("changing only an additional model's version makes a new revision", () => {
  const before = example("multi-model.yaml");
  const after = example("multi-model.yaml", (raw) => (raw.spec.additionalModels[1].version = "8"));
  assert.notEqual(idOf(after), idOf(before));
  const uri = example("multi-model.yaml", (raw) => (raw.spec.additionalModels[0].sha256 = "a".repeat(64)));
  assert.notEqual(idOf(uri), idOf(before), "a checksum change too");
});

test("a ModelDeployment without additional models keeps its revision id (empty list or absent)", () => {
  const plain = example("quickstart-cpu.yaml");
  const empty = example("quickstart-cpu.yaml", (raw) => (raw.spec.additionalModels = []));
  assert.equal(idOf(empty), idOf(plain));
  assert.equal("additionalModels" in revisionSpecOf(plain.spec), false, "nothing new in the stored spec");
});

test("each additional model has its own fetch init container, directory and serve --model flag", () => {
  const md = example("multi-model.yaml");
  const pod = revisionOf(md, defaultRenderConfig, revisionSpecOf(md.spec)).template.spec as Obj;
  const inits = pod.initContainers as Obj[];
  assert.deepEqual(
    inits.map((c) => [c.name, c.args[c.args.indexOf("--dest") + 1], c.args[c.args.indexOf("--uri") + 1]]),
    [
      ["fetch", "/models", "pvc://model-store/iris/1.0.0/model.onnx"],
      ["fetch-1", "/models/iris-next", "pvc://model-store/iris/1.0.0/model.onnx"],
      ["fetch-2", "/models/churn", "https://models.example.com/churn/7/model.onnx"],
    ],
  );
  assert.ok(inits[2]!.args.includes("--sha256") === false, "no digest given, none checked");
  const args = (pod.containers as Obj[])[0]!.args as string[];
  const flagValues = (flag: string) => args.flatMap((a, i) => (args[i - 1] === flag ? [a] : []));
  assert.deepEqual(flagValues("--model"), [
    "iris=/models/model.onnx@1.0.0",
    "iris-next=/models/iris-next/model.onnx@2.0.0",
    "churn=/models/churn/model.onnx@7",
  ]);
  // each model's events are mapped with its own schema; iris-next declares none
  assert.deepEqual(
    flagValues("--model-features").map((f) => f.slice(0, f.indexOf("="))),
    ["iris", "churn"],
  );
  assert.equal(args.includes("--features"), false);
  // one volume per claim, however many models read it
  assert.equal((pod.volumes as Obj[]).filter((v) => v.name === "pvc-model-store").length, 1);
});

test("additional model names must be unique (zod, as the API server's list-map key does)", () => {
  const raw = yaml.load(readFileSync(join(repoRoot, "examples/multi-model.yaml"), "utf8")) as Obj;
  raw.spec.additionalModels[1].name = "iris-next";
  const r = parseModelDeployment(raw);
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.ok(r.errors.some((e) => e.message.includes("spec.additionalModels[].name must be unique")));
});
