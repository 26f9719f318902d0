// The chart's collector parts through the real `helm template`: the token Secret, who mounts it, the
// NetworkPolicy, and collector/controller command lines the commands accept. Skipped without helm
// (`npm run cluster:up` builds one into .e2e/bin).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import yaml from "js-yaml";
import { parseCommandArgs } from "../cmd/command.js";
import { command as collectorCommand } from "../cmd/collector.js";
import { command as controllerCommand } from "../cmd/controller.js";
import { repoRoot } from "../testing/repo.js";

type Obj = Record<string, any>;

function findHelm(): string | undefined {
  const bin = join(repoRoot, ".e2e", "bin");
  if (existsSync(bin))
    for (const d of readdirSync(bin).sort().reverse())
      if (existsSync(join(bin, d, "helm"))) return join(bin, d, "helm");
  try {
    execFileSync("helm", ["version", "--short"], { stdio: "ignore" });
    return "helm";
  } catch {
    return undefined;
  }
}

const helm = findHelm();
const skip = helm === undefined ? "no helm binary (npm run cluster:up builds one)" : false;
const chart = join(repoRoot, "charts/modelship");

function template(...set: string[]): Obj[] {
  const out = execFileSync(
    helm!,
    ["template", "ms", chart, "--namespace", "modelship-system", ...set.flatMap((s) => ["--set", s])],
    { encoding: "utf8" },
  );
  return (yaml.loadAll(out) as Obj[]).filter((o) => o !== null);
}

const find = (objs: Obj[], kind: string, name: string) =>
  objs.find((o) => o.kind === kind && o.metadata.name === name);

function podOf(o: Obj | undefined): Obj {
  assert.ok(o, "object rendered");
  return o.spec.template.spec;
}

/** The secret a pod mounts at dir, and the container's flag pointing into it. */
function tokenMount(pod: Obj, dir: string): string | undefined {
  const c = pod.containers[0];
  const mount = (c.volumeMounts ?? []).find((m: Obj) => m.mountPath === dir);
  if (!mount) return undefined;
  return pod.volumes.find((v: Obj) => v.name === mount.name).secret.secretName;
}

const tokenDir = "/var/run/secrets/modelship/collector";

test("the chart lints", { skip }, () => {
  execFileSync(helm!, ["lint", chart], { encoding: "utf8" });
});

test("by default the collector wants a generated token, which the controller reads too", { skip }, () => {
  const objs = template();
  const secret = find(objs, "Secret", "ms-collector-token");
  assert.ok(secret, "the chart generates the token Secret");
  assert.match(Buffer.from(secret.data.token, "base64").toString(), /^[A-Za-z0-9]{48}$/);

  const collector = find(objs, "StatefulSet", "ms-collector");
  const cArgs = podOf(collector).containers[0].args as string[];
  const parsed = parseCommandArgs(collectorCommand, cArgs.slice(1)).values;
  assert.equal(parsed["token-file"], `${tokenDir}/token`);
  assert.equal(parsed["max-request-bytes"], "16777216");
  assert.equal(parsed["max-event-bytes"], "4194304");
  assert.equal(parsed["max-concurrent-requests"], "8");
  assert.equal(parsed["retention-days"], undefined, "retention is off unless asked for");
  assert.equal(tokenMount(podOf(collector), tokenDir), "ms-collector-token");

  const controller = find(objs, "Deployment", "ms-controller");
  const flags = parseCommandArgs(controllerCommand, podOf(controller).containers[0].args.slice(1)).values;
  assert.equal(flags["collector-token-file"], `${tokenDir}/token`);
  assert.equal(tokenMount(podOf(controller), tokenDir), "ms-collector-token");
  assert.equal(podOf(controller).securityContext.fsGroup, 65532, "group 65532 may read the 0440 file");

  const rules = find(objs, "ClusterRole", "ms-controller")?.rules as Obj[];
  assert.ok(
    rules.some(
      (r) => r.resources.includes("secrets") && r.verbs.includes("create") && r.verbs.includes("watch"),
    ),
    "the controller copies the token beside each model",
  );
});

test("the NetworkPolicy admits modelship's pods and the helm test pod, plus extraFrom", { skip }, () => {
  const np = find(template(), "NetworkPolicy", "ms-collector")!;
  assert.deepEqual(np.spec.podSelector.matchLabels, {
    "app.kubernetes.io/instance": "ms",
    "app.kubernetes.io/component": "collector",
  });
  assert.deepEqual(np.spec.policyTypes, ["Ingress"]);
  // modelship's pods anywhere, and the chart's `helm test` pod in the release namespace.
  const testPod = {
    podSelector: {
      matchLabels: { "app.kubernetes.io/instance": "ms", "app.kubernetes.io/component": "test" },
    },
  };
  assert.deepEqual(np.spec.ingress, [
    {
      ports: [{ port: 9090, protocol: "TCP" }],
      from: [
        {
          podSelector: { matchLabels: { "app.kubernetes.io/managed-by": "modelship" } },
          namespaceSelector: {},
        },
        testPod,
      ],
    },
  ]);

  const scoped = find(
    template(
      "controller.namespaces={team-a,team-b}",
      "collector.networkPolicy.extraFrom[0].namespaceSelector.matchLabels.kubernetes\\.io/metadata\\.name=monitoring",
    ),
    "NetworkPolicy",
    "ms-collector",
  )!;
  assert.deepEqual(scoped.spec.ingress[0].from, [
    {
      podSelector: { matchLabels: { "app.kubernetes.io/managed-by": "modelship" } },
      namespaceSelector: {
        matchExpressions: [
          { key: "kubernetes.io/metadata.name", operator: "In", values: ["team-a", "team-b"] },
        ],
      },
    },
    testPod,
    { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } },
  ]);

  assert.equal(
    find(template("collector.networkPolicy.enabled=false"), "NetworkPolicy", "ms-collector"),
    undefined,
  );
});

test(
  "existingSecret, limits and retention values reach the collector; no collector, no token",
  { skip },
  () => {
    const objs = template(
      "collector.auth.existingSecret=my-token",
      "collector.retentionDays=14",
      "collector.maxEventBytes=8388608",
      "collector.persistence.enabled=false",
    );
    assert.equal(
      objs.find((o) => o.kind === "Secret"),
      undefined,
    );
    const collector = podOf(find(objs, "StatefulSet", "ms-collector"));
    assert.equal(tokenMount(collector, tokenDir), "my-token");
    assert.equal(tokenMount(podOf(find(objs, "Deployment", "ms-controller")), tokenDir), "my-token");
    const flags = parseCommandArgs(collectorCommand, collector.containers[0].args.slice(1)).values;
    assert.equal(flags["retention-days"], "14");
    assert.equal(flags["max-event-bytes"], "8388608");
    assert.ok(collector.volumes.some((v: Obj) => v.name === "data" && v.emptyDir));

    const none = template("collector.enabled=false");
    assert.deepEqual(
      none.filter((o) => ["Secret", "NetworkPolicy", "StatefulSet"].includes(o.kind)),
      [],
    );
    const controller = podOf(find(none, "Deployment", "ms-controller"));
    assert.equal(tokenMount(controller, tokenDir), undefined);
    assert.ok(!controller.containers[0].args.some((a: string) => a.startsWith("--collector-token-file")));
  },
);
