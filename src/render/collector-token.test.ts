import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import yaml from "js-yaml";
import { parseModelDeployment, type ModelDeployment } from "../api/v1alpha1/index.js";
import { repoRoot } from "../testing/repo.js";
import { collectorTokenFile } from "./collector-token.js";
import { defaultRenderConfig, type RenderConfig } from "./config.js";
import type { K8sObject } from "./object.js";
import { stablePlan } from "./plan.js";
import { render } from "./render.js";

type Obj = Record<string, any>;

function load(file: string): ModelDeployment {
  const r = parseModelDeployment(yaml.load(readFileSync(join(repoRoot, "examples", file), "utf8")));
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.value;
}

const withToken: RenderConfig = { ...defaultRenderConfig, collectorToken: "s3cret-token" };

function podSpecs(objects: K8sObject[]): { kind: string; spec: Obj }[] {
  return (objects as Obj[]).flatMap((o) => {
    const spec = o.spec?.template?.spec ?? o.spec?.jobTemplate?.spec?.template?.spec;
    return spec ? [{ kind: o.kind as string, spec }] : [];
  });
}

function container(spec: Obj, name: string): Obj {
  const c = [...(spec.initContainers ?? []), ...spec.containers].find((x: Obj) => x.name === name);
  assert.ok(c, `container ${name}`);
  return c;
}

test("Given a collector token, Then a Secret beside the model holds it and serve (which writes the events) and the drift job mount it", () => {
  const md = load("canary.yaml"); // logging on, drift on
  const objects = render(md, stablePlan(md), withToken).objects as Obj[];
  const secret = objects.find((o) => o.kind === "Secret");
  assert.deepEqual(secret?.metadata.name, `${md.metadata.name}-collector-token`);
  assert.equal(secret?.metadata.namespace, md.metadata.namespace);
  assert.equal(Buffer.from(secret?.data.token, "base64").toString(), "s3cret-token");

  const [deployment, drift] = [
    podSpecs(objects).find((p) => p.kind === "Deployment")!.spec,
    podSpecs(objects).find((p) => p.kind === "CronJob")!.spec,
  ];
  const serveArgs = container(deployment, "serve").args as string[];
  assert.equal(serveArgs[serveArgs.indexOf("--sink-token-file") + 1], collectorTokenFile);
  const driftArgs = container(drift, "drift").args as string[];
  assert.equal(driftArgs[driftArgs.indexOf("--collector-token-file") + 1], collectorTokenFile);
  for (const [spec, name] of [
    [deployment, "serve"],
    [drift, "drift"],
  ] as const) {
    assert.ok(
      container(spec, name).volumeMounts.some((m: Obj) => m.name === "collector-token" && m.readOnly),
    );
    const vol = spec.volumes.find((v: Obj) => v.name === "collector-token");
    assert.deepEqual(vol.secret, { secretName: `${md.metadata.name}-collector-token`, defaultMode: 0o440 });
  }
  assert.ok(!JSON.stringify(podSpecs(objects)).includes("s3cret"), "the token is never in a pod template");
});

test("a rotated token changes the Secret only: no revision id, so no pod restarts", () => {
  const md = load("canary.yaml");
  const a = render(md, stablePlan(md), withToken);
  const b = render(md, stablePlan(md), { ...withToken, collectorToken: "rotated" });
  assert.deepEqual(
    a.revisions.map((r) => r.id),
    b.revisions.map((r) => r.id),
  );
  const deployments = (r: typeof a) => JSON.stringify(r.objects.filter((o) => o.kind === "Deployment"));
  assert.equal(deployments(a), deployments(b));
});

test("Given a custom sink, Then its pods send no token: it is the installation's collector's, not theirs", () => {
  const md = load("quickstart-cpu.yaml");
  md.spec.logging = { ...md.spec.logging, sink: "http://events.example.com:9090" };
  delete md.spec.monitoring;
  const objects = render(md, stablePlan(md), withToken).objects as Obj[];
  assert.equal(
    objects.find((o) => o.kind === "Secret"),
    undefined,
  );
  const serve = container(podSpecs(objects)[0]!.spec, "serve");
  assert.ok(serve.args.includes("--sink"));
  assert.ok(!serve.args.includes("--sink-token-file"));
});

test("Without a collector token nothing is rendered for it", () => {
  const md = load("canary.yaml");
  const objects = render(md, stablePlan(md), defaultRenderConfig).objects;
  assert.equal(
    objects.find((o) => o.kind === "Secret"),
    undefined,
  );
  assert.ok(!JSON.stringify(objects).includes("collector-token"));
});

test("the serve, logger and drift command lines rendered with a token are accepted by those commands", async () => {
  const md = load("canary.yaml");
  const { command: logger } = await import("../cmd/logger.js");
  const { command: serve } = await import("../cmd/serve.js");
  const { command: drift } = await import("../cmd/drift.js");
  const { parseCommandArgs } = await import("../cmd/command.js");
  for (const { spec } of podSpecs(render(md, stablePlan(md), withToken).objects)) {
    for (const c of [...(spec.initContainers ?? []), ...spec.containers] as Obj[]) {
      const [name, ...args] = c.args as string[];
      if (name === "logger") parseCommandArgs(logger, args);
      if (name === "serve") parseCommandArgs(serve, args);
      if (name === "drift") parseCommandArgs(drift, args);
    }
  }
});
