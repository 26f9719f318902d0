// Smoke suite: proves the e2e cluster is a real Kubernetes control plane (API server,
// controller-manager, scheduler) with kwok's fake GPU nodes, and that kubectl and helm work.
// Run with `npm run test:e2e` (or `npm run test:e2e -- smoke`).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import {
  bundledKubeVersion,
  clusterEnv,
  createNamespace,
  helm,
  kubectl,
  kubectlApply,
  kubectlJson,
  waitEstablished,
  waitFor,
  type TestNamespace,
} from "./lib/index.js";

const env = clusterEnv();
const testTimeout = { timeout: 300_000 };
const image = "registry.k8s.io/pause:3.10";

interface Meta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  ownerReferences?: { kind: string; name: string; uid: string }[];
  uid?: string;
}
interface Condition {
  type: string;
  status: string;
  reason?: string;
}
interface ContainerStatus {
  ready: boolean;
  restartCount: number;
  state: {
    running?: object;
    waiting?: { reason?: string };
    terminated?: { exitCode: number; reason?: string };
  };
}
interface Pod {
  metadata: Meta;
  spec: { nodeName?: string };
  status: { phase: string; conditions?: Condition[]; containerStatuses?: ContainerStatus[] };
}
interface Node {
  metadata: Meta;
  status: { allocatable: Record<string, string> };
}
interface List<T> {
  items: T[];
}

let ns: TestNamespace;
let gpuNodes: Node[] = [];

before(async () => {
  ns = await createNamespace("smoke");
  const nodes = await kubectlJson<List<Node>>(["get", "nodes"]);
  gpuNodes = nodes.items.filter((n) => n.status.allocatable["nvidia.com/gpu"] !== undefined);
});

after(async () => {
  await ns?.delete();
});

function deployment(
  name: string,
  opts: { replicas?: number; gpus?: number; labels?: Record<string, string> } = {},
): string {
  const labels = { app: name, ...opts.labels };
  const gpu = opts.gpus ? { "nvidia.com/gpu": String(opts.gpus) } : {};
  return JSON.stringify({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: ns.name },
    spec: {
      replicas: opts.replicas ?? 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels },
        spec: {
          tolerations: opts.gpus
            ? [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }]
            : undefined,
          containers: [
            {
              name: "model",
              image,
              resources: { requests: { cpu: "100m", memory: "64Mi", ...gpu }, limits: gpu },
            },
          ],
        },
      },
    },
  });
}

function barePod(name: string, labels: Record<string, string>): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: ns.name, labels },
    spec: { restartPolicy: "Never", containers: [{ name: "model", image }] },
  });
}

async function podsOf(app: string): Promise<Pod[]> {
  return (await kubectlJson<List<Pod>>(["get", "pods", "-n", ns.name, "-l", `app=${app}`])).items;
}

async function pod(name: string): Promise<Pod> {
  return kubectlJson<Pod>(["get", "pod", name, "-n", ns.name]);
}

const condition = (p: Pod, type: string) => p.status.conditions?.find((c) => c.type === type);

describe("the API server", () => {
  test(
    "Given the kubeconfig, When /version is read with the TypeScript client, Then it reports the real build",
    testTimeout,
    async () => {
      const kc = new k8s.KubeConfig();
      kc.loadFromFile(env.kubeconfig);
      const version = await kc.makeApiClient(k8s.VersionApi).getCode();
      assert.match(version.gitVersion, /^v1\.\d+\.\d+/);
      assert.notEqual(version.gitVersion, "v0.0.0");
      if (env.bundled) {
        assert.equal(version.gitVersion, bundledKubeVersion);
        assert.equal(version.major, "1");
        assert.equal(version.minor, bundledKubeVersion.split(".")[1]);
      }
      // kubectl sees the same server.
      const kv = JSON.parse((await kubectl(["version", "-o", "json"])).stdout) as {
        serverVersion: { gitVersion: string };
      };
      assert.equal(kv.serverVersion.gitVersion, version.gitVersion);
    },
  );

  test(
    "Given a new CRD, When it is applied with kubectl, Then custom objects are stored and validated",
    testTimeout,
    async () => {
      const group = "smoke.e2e.modelship.io";
      const crdName = `widgets.${group}`;
      await kubectlApply(
        JSON.stringify({
          apiVersion: "apiextensions.k8s.io/v1",
          kind: "CustomResourceDefinition",
          metadata: { name: crdName },
          spec: {
            group,
            scope: "Namespaced",
            names: { plural: "widgets", singular: "widget", kind: "Widget" },
            versions: [
              {
                name: "v1",
                served: true,
                storage: true,
                schema: {
                  openAPIV3Schema: {
                    type: "object",
                    properties: {
                      spec: { type: "object", properties: { size: { type: "integer", minimum: 1 } } },
                    },
                  },
                },
              },
            ],
          },
        }),
      );
      try {
        await waitEstablished(crdName);
        const widget = (size: unknown) =>
          JSON.stringify({
            apiVersion: `${group}/v1`,
            kind: "Widget",
            metadata: { name: "w1", namespace: ns.name },
            spec: { size },
          });
        // The discovery cache may lag the new group for a moment; retry until the kind is known.
        await waitFor("the Widget kind to be served", () => kubectlApply(widget(3)).then(() => true));
        const got = await kubectlJson<{ spec: { size: number } }>([
          "get",
          `widgets.${group}`,
          "w1",
          "-n",
          ns.name,
        ]);
        assert.equal(got.spec.size, 3);
        const bad = await kubectl(["apply", "-f", "-"], { input: widget(0), allowFailure: true });
        assert.notEqual(bad.code, 0);
        assert.match(bad.stderr, /spec\.size/);
      } finally {
        await kubectl(["delete", "crd", crdName, "--ignore-not-found", "--wait=false"], {
          allowFailure: true,
        });
      }
    },
  );

  test(
    "Given the cluster was brought up, Then the Gateway API and Istio CRDs are installed",
    testTimeout,
    async (t) => {
      if (!env.bundled) return t.skip("installed by e2e/cluster/install-crds.sh on the bundled cluster only");
      const r = await kubectl([
        "get",
        "crd",
        "httproutes.gateway.networking.k8s.io",
        "gateways.gateway.networking.k8s.io",
        "virtualservices.networking.istio.io",
        "destinationrules.networking.istio.io",
        "-o",
        "name",
      ]);
      assert.equal(r.stdout.trim().split("\n").length, 4);
    },
  );

  test(
    "Given a CronJob with a time zone, Then the API server accepts known zones and rejects unknown ones",
    testTimeout,
    async () => {
      const cron = (name: string, timeZone: string) =>
        JSON.stringify({
          apiVersion: "batch/v1",
          kind: "CronJob",
          metadata: { name, namespace: ns.name },
          spec: {
            schedule: "0 3 * * *",
            timeZone,
            jobTemplate: {
              spec: { template: { spec: { restartPolicy: "Never", containers: [{ name: "c", image }] } } },
            },
          },
        });
      await kubectlApply(cron("berlin", "Europe/Berlin"));
      const bad = await kubectl(["apply", "-f", "-"], {
        input: cron("mars", "Mars/Olympus_Mons"),
        allowFailure: true,
      });
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /timeZone/);
    },
  );
});

describe("scheduling onto fake GPU nodes", () => {
  test(
    "Given a Deployment asking for 1 GPU with the GPU toleration, When applied, Then its pod lands on a GPU node and becomes Ready",
    testTimeout,
    async (t) => {
      if (gpuNodes.length === 0) return t.skip("the cluster has no node advertising nvidia.com/gpu");
      await kubectlApply(deployment("gpu-one", { gpus: 1 }));
      await kubectl(["rollout", "status", "deployment/gpu-one", "-n", ns.name, "--timeout=180s"], {
        timeoutMs: 200_000,
      });
      const [p] = await podsOf("gpu-one");
      assert.ok(p, "the Deployment has a pod");
      assert.equal(p.status.phase, "Running");
      assert.equal(condition(p, "Ready")?.status, "True");
      const node = gpuNodes.find((n) => n.metadata.name === p.spec.nodeName);
      assert.ok(node, `pod ran on ${p.spec.nodeName}, which is not a GPU node`);
      assert.equal(node.metadata.labels?.["nvidia.com/gpu.present"], "true");
    },
  );

  test(
    "Given a Deployment asking for 9 GPUs, When applied, Then its pod stays Pending with FailedScheduling: Insufficient nvidia.com/gpu",
    testTimeout,
    async (t) => {
      if (gpuNodes.length === 0) return t.skip("the cluster has no node advertising nvidia.com/gpu");
      await kubectlApply(deployment("gpu-nine", { gpus: 9 }));
      const event = await waitFor("a FailedScheduling event for the 9-GPU pod", async () => {
        const events = await kubectlJson<List<{ reason: string; message: string; involvedObject: Meta }>>([
          "get",
          "events",
          "-n",
          ns.name,
          "--field-selector",
          "reason=FailedScheduling",
        ]);
        return events.items.find((e) => e.involvedObject.name.startsWith("gpu-nine-"));
      });
      assert.match(event.message, /Insufficient nvidia\.com\/gpu/);
      const [p] = await podsOf("gpu-nine");
      assert.ok(p);
      assert.equal(p.status.phase, "Pending");
      assert.equal(p.spec.nodeName, undefined);
      assert.equal(condition(p, "PodScheduled")?.reason, "Unschedulable");
    },
  );
});

describe("controllers", () => {
  test(
    "Given a Ready Deployment, When it is deleted, Then the garbage collector removes its ReplicaSet and pods",
    testTimeout,
    async () => {
      await kubectlApply(deployment("gc-demo", { replicas: 2 }));
      await kubectl(["rollout", "status", "deployment/gc-demo", "-n", ns.name, "--timeout=180s"], {
        timeoutMs: 200_000,
      });
      const d = await kubectlJson<{ metadata: Meta }>(["get", "deployment", "gc-demo", "-n", ns.name]);
      const rss = await kubectlJson<List<{ metadata: Meta }>>([
        "get",
        "replicasets",
        "-n",
        ns.name,
        "-l",
        "app=gc-demo",
      ]);
      assert.equal(rss.items.length, 1);
      assert.equal(rss.items[0]?.metadata.ownerReferences?.[0]?.uid, d.metadata.uid);
      const pods = await podsOf("gc-demo");
      assert.equal(pods.length, 2);
      assert.ok(pods.every((p) => p.metadata.ownerReferences?.[0]?.name === rss.items[0]?.metadata.name));

      await kubectl(["delete", "deployment", "gc-demo", "-n", ns.name, "--wait=false"]);

      await waitFor("the ReplicaSet and pods to be garbage-collected", async () => {
        const left = await kubectl([
          "get",
          "replicasets,pods",
          "-n",
          ns.name,
          "-l",
          "app=gc-demo",
          "-o",
          "name",
        ]);
        return left.stdout.trim() === "";
      });
    },
  );

  test(
    "Given a Job, When its pod finishes, Then the Job controller marks it Complete",
    testTimeout,
    async (t) => {
      if (!env.bundled) return t.skip("relies on kwok completing Job pods");
      await kubectlApply(
        JSON.stringify({
          apiVersion: "batch/v1",
          kind: "Job",
          metadata: { name: "once", namespace: ns.name },
          spec: { template: { spec: { restartPolicy: "Never", containers: [{ name: "c", image }] } } },
        }),
      );
      await kubectl(["wait", "--for=condition=Complete", "--timeout=180s", "job/once", "-n", ns.name], {
        timeoutMs: 200_000,
      });
    },
  );
});

describe("simulated model failures (kwok stages)", () => {
  test(
    "Given a pod labelled modelship.io/e2e-fail=true, Then it goes Failed with a crashed container",
    testTimeout,
    async (t) => {
      if (!env.bundled) return t.skip("fault labels exist on the bundled kwok cluster only");
      await kubectlApply(barePod("crash", { "modelship.io/e2e-fail": "true" }));
      const p = await waitFor("the pod to fail", async () => {
        const got = await pod("crash");
        return got.status.phase === "Failed" ? got : undefined;
      });
      assert.equal(p.status.containerStatuses?.[0]?.state.terminated?.exitCode, 1);
      assert.equal(condition(p, "Ready")?.status, "False");
    },
  );

  test(
    "Given a pod labelled modelship.io/e2e-never-ready=true, Then it runs but is not Ready",
    testTimeout,
    async (t) => {
      if (!env.bundled) return t.skip("fault labels exist on the bundled kwok cluster only");
      await kubectlApply(barePod("stuck", { "modelship.io/e2e-never-ready": "true" }));
      const p = await waitFor("the pod to be Running", async () => {
        const got = await pod("stuck");
        return got.status.phase === "Running" ? got : undefined;
      });
      assert.equal(condition(p, "Ready")?.status, "False");
      assert.ok(p.status.containerStatuses?.[0]?.state.running);
      assert.equal(p.status.containerStatuses?.[0]?.ready, false);
    },
  );

  test(
    "Given a Deployment whose pods carry modelship.io/e2e-crashloop=true, Then they sit in CrashLoopBackOff and the Deployment is unavailable",
    testTimeout,
    async (t) => {
      if (!env.bundled) return t.skip("fault labels exist on the bundled kwok cluster only");
      await kubectlApply(deployment("crashy", { labels: { "modelship.io/e2e-crashloop": "true" } }));
      const p = await waitFor("the pod to be in CrashLoopBackOff", async () => {
        const [got] = await podsOf("crashy");
        return got?.status.containerStatuses?.[0]?.state.waiting?.reason === "CrashLoopBackOff"
          ? got
          : undefined;
      });
      assert.equal(p.status.phase, "Running");
      assert.ok((p.status.containerStatuses?.[0]?.restartCount ?? 0) > 0);
      const d = await kubectlJson<{ status: { readyReplicas?: number; unavailableReplicas?: number } }>([
        "get",
        "deployment",
        "crashy",
        "-n",
        ns.name,
      ]);
      assert.equal(d.status.readyReplicas ?? 0, 0);
    },
  );
});

describe("helm", () => {
  test("Given the helm binary, Then helm version works", testTimeout, async () => {
    const r = await helm(["version", "--short"]);
    assert.match(r.stdout.trim(), /^v3\.\d+\.\d+/);
  });

  test(
    "Given a chart with a kubeVersion constraint, When installed with --wait, Then the release is deployed and its pods Ready",
    testTimeout,
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "modelship-e2e-chart-"));
      try {
        mkdirSync(join(dir, "templates"));
        writeFileSync(
          join(dir, "Chart.yaml"),
          'apiVersion: v2\nname: smoke\nversion: 0.1.0\nkubeVersion: ">=1.30.0-0"\n',
        );
        writeFileSync(
          join(dir, "templates", "deployment.yaml"),
          deployment("helm-smoke").replace(`"namespace":"${ns.name}",`, ""),
        );
        await helm(["install", "smoke", dir, "-n", ns.name, "--wait", "--timeout", "3m"], {
          timeoutMs: 240_000,
        });
        const releases = JSON.parse((await helm(["list", "-n", ns.name, "-o", "json"])).stdout) as {
          name: string;
          status: string;
        }[];
        assert.deepEqual(
          releases.map((r) => [r.name, r.status]),
          [["smoke", "deployed"]],
        );
        const [p] = await podsOf("helm-smoke");
        assert.equal(p && condition(p, "Ready")?.status, "True");
        await helm(["uninstall", "smoke", "-n", ns.name, "--wait"]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
