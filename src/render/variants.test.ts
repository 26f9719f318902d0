import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import yaml from "js-yaml";
import { parseModelDeployment, type ModelDeployment } from "../api/v1alpha1/index.js";
import { parseCommandArgs, stringFlag } from "../cmd/command.js";
import { command as loggerCommand } from "../cmd/logger.js";
import { command as serveCommand } from "../cmd/serve.js";
import { parseVariant } from "../events/config.js";
import { tmp } from "../testing/procs.js";
import { VariantFile } from "../events/variant-file.js";
import { createLogger } from "../platform/log.js";
import { repoRoot } from "../testing/repo.js";
import { defaultRenderConfig } from "./config.js";
import { labelKeys } from "./labels.js";
import type { K8sObject } from "./object.js";
import { canaryPlan } from "./plan-file.js";
import { stablePlan, type RenderPlan } from "./plan.js";
import { render } from "./render.js";

type Obj = Record<string, any>;
const log = createLogger({ name: "test", level: "silent" });

function load(file: string): ModelDeployment {
  const r = parseModelDeployment(yaml.load(readFileSync(join(repoRoot, "examples", file), "utf8")));
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.value;
}

/**
 * The variant a Deployment's events record, found the way the pod finds it: the flags of the container that
 * writes them (serve, or the logger in front of a custom container), the
 * revision label the downward API substitutes, the volume the file lies in, and the ConfigMap's data
 * written out as the kubelet writes a ConfigMap volume (one file per key).
 */
async function loggedVariant(dep: Obj, objects: K8sObject[]): Promise<string> {
  const pod = dep.spec.template;
  const logger = (pod.spec.initContainers as Obj[]).find((c) => c.name === "logger");
  const writer = logger ?? (pod.spec.containers as Obj[]).find((c) => c.name === "serve")!;
  const flags = parseCommandArgs(logger ? loggerCommand : serveCommand, (writer.args as string[]).slice(1));
  const file = stringFlag(flags, "variant-file")!.replace(
    "$(MODELSHIP_REVISION)",
    pod.metadata.labels[labelKeys.revision],
  );
  const mount = (writer.volumeMounts as Obj[]).find((m) => file.startsWith(`${m.mountPath}/`))!;
  const volume = (pod.spec.volumes as Obj[]).find((v) => v.name === mount.name)!;
  const cm = objects.find((o) => o.kind === "ConfigMap" && o.metadata?.name === volume.configMap.name) as
    Obj | undefined;
  const dir = tmp("variants");
  mkdirSync(dir, { recursive: true });
  for (const [k, v] of Object.entries((cm?.data ?? {}) as Record<string, string>))
    writeFileSync(join(dir, k), v);
  const vf = new VariantFile(
    join(dir, file.slice(mount.mountPath.length + 1)),
    parseVariant(stringFlag(flags, "variant") ?? "stable"),
    log,
  );
  await vf.read();
  return vf.current;
}

async function variants(md: ModelDeployment, plan: RenderPlan) {
  const { objects, revisions } = render(md, plan, defaultRenderConfig);
  const out: Record<string, { id: string; variant: string }> = {};
  for (const r of revisions) {
    const dep = objects.find((o) => o.kind === "Deployment" && o.metadata?.name === r.deploymentName);
    out[r.role] = { id: r.id, variant: await loggedVariant(dep as Obj, objects) };
  }
  return out;
}

test("canary pods record variant canary, preview pods preview, stable pods stable", async () => {
  const canary = load("canary.yaml");
  const c = await variants(canary, canaryPlan(canary, 20, "2024-05-01"));
  assert.equal(c.stable?.variant, "stable");
  assert.equal(c.canary?.variant, "canary");

  const bg = load("bluegreen.yaml");
  const plan = canaryPlan(bg, 0, "6");
  plan.revisions[1]!.role = "preview";
  const b = await variants(bg, plan);
  assert.equal(b.stable?.variant, "stable");
  assert.equal(b.preview?.variant, "preview");
});

test("a promoted canary records stable from the same pod template: the role is not in the pods", async () => {
  const md = load("canary.yaml");
  const before = await variants(md, canaryPlan(md, 50, "2024-05-01"));
  const after = await variants(md, stablePlan(md));
  assert.equal(after.stable?.id, before.canary?.id, "same revision, so the same pods keep running");
  assert.equal(after.stable?.variant, "stable");
});
