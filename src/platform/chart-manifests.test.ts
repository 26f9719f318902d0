// The static manifests (manifests/): generated from the chart and current, and each kustomize overlay built
// with kubectl's built-in kustomize (no cluster needed). Skipped without helm and kubectl (`npm run
// cluster:up` builds both into .e2e/bin).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import yaml from "js-yaml";
import { parseCommandArgs } from "../cmd/command.js";
import { command as controllerCommand } from "../cmd/controller.js";
import { repoRoot } from "../testing/repo.js";

type Obj = Record<string, any>;

function findTool(name: string): string | undefined {
  const bin = join(repoRoot, ".e2e", "bin");
  if (existsSync(bin))
    for (const d of readdirSync(bin).sort().reverse())
      if (existsSync(join(bin, d, name))) return join(bin, d, name);
  try {
    execFileSync(name, ["version", "--client"], { stdio: "ignore" });
    return name;
  } catch {
    return undefined;
  }
}
const helm = findTool("helm");
const kubectl = findTool("kubectl");
const skip =
  helm === undefined || kubectl === undefined ? "no helm or kubectl (npm run cluster:up builds both)" : false;

const manifests = join(repoRoot, "manifests");
const system = "modelship-system";
/** The flags scripts/manifests.sh renders the chart with. */
const chartFlags = [
  "--namespace",
  system,
  "--skip-tests",
  "--include-crds",
  "--set",
  "collector.auth.existingSecret=modelship-collector-token",
];

const docs = (text: string) => (yaml.loadAll(text) as Obj[]).filter((o) => o !== null);
const kustomize = (dir: string) =>
  docs(execFileSync(kubectl!, ["kustomize", join(manifests, dir)], { encoding: "utf8" }));
const helmTemplate = (...set: string[]) =>
  docs(
    execFileSync(
      helm!,
      [
        "template",
        "modelship",
        join(repoRoot, "charts/modelship"),
        ...chartFlags,
        ...set.flatMap((s) => ["--set", s]),
      ],
      { encoding: "utf8" },
    ),
  );
const key = (o: Obj) => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`;
const find = (objs: Obj[], kind: string, name: string) =>
  objs.find((o) => o.kind === kind && o.metadata.name === name);
const controllerPod = (objs: Obj[]) => find(objs, "Deployment", "modelship-controller")!.spec.template.spec;
/** Flag order does not matter to the controller: compare its flags as a set. */
const sortArgs = (objs: Obj[]) =>
  objs.map((o) => {
    if (o.kind !== "Deployment") return o;
    const copy = structuredClone(o);
    copy.spec.template.spec.containers[0].args.sort();
    return copy;
  });

/** The overlay's objects, less its Namespace, are exactly what the chart renders with `set`. */
function assertSameAsChart(overlay: Obj[], ...set: string[]) {
  const fromChart = new Map(sortArgs(helmTemplate(...set)).map((o) => [key(o), o]));
  const built = new Map(sortArgs(overlay.filter((o) => o.kind !== "Namespace")).map((o) => [key(o), o]));
  assert.deepEqual([...built.keys()].sort(), [...fromChart.keys()].sort());
  for (const [k, o] of built) assert.deepEqual(o, fromChart.get(k), k);
}

test("manifests/ is what scripts/manifests.sh renders from the chart", { skip }, () => {
  execFileSync("bash", [join(repoRoot, "scripts/manifests.sh"), "--check"], {
    encoding: "utf8",
    env: { ...process.env, HELM: helm! },
    stdio: "pipe",
  });
});

test("the base: the Namespace first, then the chart's objects, all in modelship-system", { skip }, () => {
  const objs = kustomize("base");
  assert.equal(objs[0]!.kind, "Namespace");
  assert.equal(objs[0]!.metadata.name, system);
  assert.equal(objs[0]!.metadata.labels["pod-security.kubernetes.io/enforce"], "restricted");
  assertSameAsChart(objs);
  for (const o of objs.filter((x) => !["Namespace", "CustomResourceDefinition"].includes(x.kind)))
    if (!o.kind.startsWith("Cluster")) assert.equal(o.metadata.namespace, system, key(o));
  // The pods meet the restricted Pod Security Standard the Namespace enforces.
  for (const kind of ["Deployment", "StatefulSet"]) {
    const pod = objs.find((o) => o.kind === kind)!.spec.template.spec;
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.securityContext.seccompProfile.type, "RuntimeDefault");
    for (const c of pod.containers) {
      assert.equal(c.securityContext.allowPrivilegeEscalation, false);
      assert.deepEqual(c.securityContext.capabilities.drop, ["ALL"]);
    }
  }
});

test(
  "overlays/namespace-scoped: exactly the chart's namespace scope for the namespace models",
  { skip },
  () => {
    const objs = kustomize("overlays/namespace-scoped");
    assertSameAsChart(objs, "controller.namespaces={models}");
    const clusterRoles = objs.filter((o) => o.kind === "ClusterRole");
    assert.deepEqual(
      clusterRoles.map((o) => o.metadata.name),
      ["modelship-controller-cluster-reads"],
    );
    for (const r of clusterRoles[0]!.rules)
      assert.ok(
        r.verbs.every((v: string) => ["get", "list", "watch"].includes(v)),
        `read only: ${JSON.stringify(r)}`,
      );
    assert.ok(objs.some((o) => o.kind === "Role" && o.metadata.namespace === "models"));
    const flags = parseCommandArgs(controllerCommand, controllerPod(objs).containers[0].args.slice(1)).values;
    assert.equal(flags.namespaces, "models");
  },
);

test(
  "overlays/pinned-image: the same digest for the pods and the --image the model pods get",
  { skip },
  () => {
    const objs = kustomize("overlays/pinned-image");
    const pinned = /^modelship\/modelship@sha256:[0-9a-f]{64}$/;
    const images = objs
      .filter((o) => ["Deployment", "StatefulSet"].includes(o.kind))
      .flatMap((o) => o.spec.template.spec.containers.map((c: Obj) => c.image));
    assert.equal(images.length, 2);
    for (const i of images) assert.match(i, pinned);
    const args: string[] = controllerPod(objs).containers[0].args;
    const flags = parseCommandArgs(controllerCommand, args.slice(1)).values;
    assert.equal(flags.image, images[0], "--image names the pinned image");
    // The patch replaced the --image flag and nothing else.
    const base: string[] = controllerPod(kustomize("base")).containers[0].args;
    assert.deepEqual(
      args.filter((a) => !a.startsWith("--image=")),
      base.filter((a) => !a.startsWith("--image=")),
    );
  },
);
