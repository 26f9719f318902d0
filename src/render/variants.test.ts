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
import { createRegistry } from "../platform/metrics.js";
import { Mirror, MirrorFile, type MirrorTarget } from "../runtime/mirror.js";
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
  const { flags, path } = podFile(dep, objects, "variant-file");
  const vf = new VariantFile(path, parseVariant(stringFlag(flags, "variant") ?? "stable"), log);
  await vf.read();
  return vf.current;
}

/** Where a Deployment's pods copy shadow traffic, read by the real MirrorFile from its --mirror-file. */
async function mirrorTarget(dep: Obj, objects: K8sObject[]): Promise<MirrorTarget | undefined> {
  const { path } = podFile(dep, objects, "mirror-file");
  const mirror = new Mirror({
    maxInflight: 1,
    timeoutMs: 1,
    registry: createRegistry("serve", { defaultMetrics: false }),
    log,
  });
  await new MirrorFile(path, mirror, log).read();
  const target = mirror.target;
  await mirror.close();
  return target;
}

/** A file flag of the pod's event writer, resolved to the ConfigMap volume's file as the kubelet writes it. */
function podFile(dep: Obj, objects: K8sObject[], flag: string) {
  const pod = dep.spec.template;
  const logger = (pod.spec.initContainers as Obj[]).find((c) => c.name === "logger");
  const writer = logger ?? (pod.spec.containers as Obj[]).find((c) => c.name === "serve")!;
  const flags = parseCommandArgs(logger ? loggerCommand : serveCommand, (writer.args as string[]).slice(1));
  const file = stringFlag(flags, flag)!.replace(
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
  return { flags, path: join(dir, file.slice(mount.mountPath.length + 1)) };
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

/** Renders md at plan and reads, per role, where its pods copy shadow traffic. */
async function mirrors(md: ModelDeployment, plan: RenderPlan) {
  const { objects, revisions } = render(md, plan, defaultRenderConfig);
  const out: Record<string, MirrorTarget | undefined> = {};
  for (const r of revisions) {
    const dep = objects.find((o) => o.kind === "Deployment" && o.metadata?.name === r.deploymentName);
    out[r.role] = await mirrorTarget(dep as Obj, objects);
  }
  return { out, objects };
}

test("a setMirror step in the data plane: stable pods copy to the canary's Service, the canary copies nowhere, the route has no mirror", async () => {
  const md = load("canary.yaml");
  const plan = { ...canaryPlan(md, 20, "2024-05-01"), mirror: { percent: 50 } };
  const { out, objects } = await mirrors(md, plan);
  assert.deepEqual(out.stable, { url: "http://fraud-canary.payments.svc.cluster.local", percent: 50 });
  assert.equal(out.canary, undefined);
  assert.ok(objects.some((o) => o.kind === "Service" && o.metadata?.name === "fraud-canary"));
  const route = objects.find((o) => o.kind === "HTTPRoute") as Obj;
  assert.ok(!JSON.stringify(route).includes("RequestMirror"), "the router does not copy as well");

  // without the step, nobody copies
  const off = await mirrors(md, canaryPlan(md, 20, "2024-05-01"));
  assert.equal(off.out.stable, undefined);
});

test("spec.traffic.mirror: router leaves the copying to the HTTPRoute's RequestMirror filter", async () => {
  const md = load("canary.yaml");
  md.spec.traffic.mirror = "router";
  const { out, objects } = await mirrors(md, {
    ...canaryPlan(md, 20, "2024-05-01"),
    mirror: { percent: 50 },
  });
  assert.equal(out.stable, undefined);
  const route = objects.find((o) => o.kind === "HTTPRoute") as Obj;
  assert.match(
    JSON.stringify(route),
    /"requestMirror":\{"backendRef":\{[^}]*"name":"fraud-canary"[^}]*\},"percent":50\}/,
  );
});

test("the plain Service provider: while the canary only takes shadow copies, the endpoint selects stable alone", () => {
  const md = load("quickstart-cpu.yaml");
  md.spec.rollout = { ...md.spec.rollout, strategy: "canary" } as typeof md.spec.rollout;
  const endpoint = (plan: RenderPlan) =>
    (
      render(md, plan, defaultRenderConfig).objects.find(
        (o) => o.kind === "Service" && o.metadata?.name === md.metadata.name,
      ) as Obj
    ).spec.selector;
  const shadowOnly = { ...canaryPlan(md, 0, "0.9.0"), mirror: { percent: 100 } };
  shadowOnly.revisions.find((r) => r.role === "canary")!.replicas = 1;
  const stableId = render(md, shadowOnly, defaultRenderConfig).revisions.find((r) => r.role === "stable")!.id;
  assert.equal(endpoint(shadowOnly)[labelKeys.revision], stableId);
  // once the canary has a weight, the endpoint splits by replica ratio over every revision again
  assert.equal(endpoint(canaryPlan(md, 20, "0.9.0"))[labelKeys.revision], undefined);
});
