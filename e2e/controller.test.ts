// The controller on the real control plane: Given / When / Then.
// Run with `npm run test:e2e -- controller`.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import yaml from "js-yaml";
import { invalidCases, validBase } from "../src/api/v1alpha1/invalid-cases.js";
import { startController, type ControllerProcess } from "./controller/harness.js";
import {
  clusterEnv,
  createNamespace,
  run,
  kubectl,
  kubectlApply,
  kubectlJson,
  repoRoot,
  waitEstablished,
  waitFor,
  type TestNamespace,
} from "./lib/index.js";

const slow = { timeout: 300_000 };
type Obj = Record<string, any>;

function example(file: string, namespace: string, mutate: (md: Obj) => void = () => {}): Obj {
  const md = yaml.load(readFileSync(join(repoRoot, "examples", file), "utf8")) as Obj;
  md.metadata.namespace = namespace;
  mutate(md);
  return md;
}

async function apply(md: Obj) {
  await kubectlApply(JSON.stringify(md));
}

async function getMd(ns: string, name: string): Promise<Obj> {
  return kubectlJson<Obj>(["get", "modeldeployment", name, "-n", ns]);
}

const condition = (md: Obj, type: string) => (md.status?.conditions ?? []).find((c: Obj) => c.type === type);

async function waitCondition(
  ns: string,
  name: string,
  type: string,
  status: string,
  reason?: string,
  timeoutMs = 120_000,
) {
  return waitFor(
    `${ns}/${name} ${type}=${status}${reason ? ` (${reason})` : ""}`,
    async () => {
      const md = await getMd(ns, name);
      const c = condition(md, type);
      return c?.status === status &&
        (!reason || c.reason === reason) &&
        md.status?.observedGeneration === md.metadata.generation
        ? md
        : undefined;
    },
    { timeoutMs },
  );
}

/** A claim bound to a static PersistentVolume: the e2e cluster has no storage provisioner. */
async function boundClaim(namespace: string, name: string) {
  const pv = `${namespace}-${name}`;
  await kubectlApply(
    [
      {
        apiVersion: "v1",
        kind: "PersistentVolume",
        metadata: { name: pv },
        spec: {
          capacity: { storage: "1Gi" },
          accessModes: ["ReadOnlyMany"],
          storageClassName: "",
          hostPath: { path: `/tmp/${pv}` },
          claimRef: { namespace, name },
        },
      },
      {
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        metadata: { name, namespace },
        spec: {
          accessModes: ["ReadOnlyMany"],
          storageClassName: "",
          volumeName: pv,
          resources: { requests: { storage: "1Gi" } },
        },
      },
    ]
      .map((o) => JSON.stringify(o))
      .join("\n"),
  );
}

async function children(ns: string, name: string, kind: string): Promise<Obj[]> {
  const list = await kubectlJson<{ items: Obj[] }>([
    "get",
    kind,
    "-n",
    ns,
    "-l",
    `modelship.io/deployment=${name}`,
  ]);
  return list.items;
}

before(async () => {
  await kubectl(["apply", "--server-side", "--force-conflicts", "-f", join(repoRoot, "crds")]);
  await waitEstablished("modeldeployments.modelship.io");
  // Gateway API and Istio CRDs from their published Go modules (the controller discovers them at start).
  if (clusterEnv().bundled)
    await run("bash", [join(repoRoot, "e2e/cluster/install-crds.sh")], { timeoutMs: 300_000 });
});

describe("the API server enforces the schema and CEL rules", () => {
  for (const c of invalidCases) {
    test(`rejects: ${c.name}`, async () => {
      const md = validBase();
      md.metadata.namespace = "default";
      c.mutate(md);
      const r = await kubectl(["apply", "--dry-run=server", "-f", "-"], {
        input: JSON.stringify(md),
        allowFailure: true,
      });
      assert.notEqual(r.code, 0, `kubectl apply should fail for: ${c.name}`);
      assert.ok(r.stderr.includes(c.expect), `message should contain "${c.expect}", got: ${r.stderr}`);
    });
  }
  test("accepts the base object and every example", async () => {
    const base = validBase();
    base.metadata.namespace = "default";
    await kubectl(["apply", "--dry-run=server", "-f", "-"], { input: JSON.stringify(base) });
    for (const f of [
      "quickstart-cpu.yaml",
      "gpu-autoscaling.yaml",
      "canary.yaml",
      "bluegreen.yaml",
      "custom-container.yaml",
    ])
      await kubectl(["apply", "--dry-run=server", "-f", "-"], {
        input: JSON.stringify(example(f, "default")),
      });
  });
});

describe("a running controller", () => {
  let ns: TestNamespace;
  let ctl: ControllerProcess;

  before(async () => {
    ns = await createNamespace("ctl");
    ctl = await startController(["--leader-elect=false", "--namespaces", ns.name, "--resync-seconds", "10"]);
  });
  after(async () => {
    const code = await ctl?.stop();
    if (code !== 0) console.error(ctl.logs().slice(-5000));
    await ns?.delete();
  });

  test(
    "Given the quick-start example, When it is applied, Then its children exist with owner refs and it turns Ready",
    slow,
    async () => {
      await apply(example("quickstart-cpu.yaml", ns.name));
      const md = await waitCondition(ns.name, "iris", "Ready", "True");
      assert.equal(md.status.readyReplicas, 2);
      assert.equal(md.status.modelVersion, "1.0.0");
      assert.equal(md.status.endpoint, `http://iris.${ns.name}.svc.cluster.local/v2/models/iris`);
      for (const kind of ["deployment", "service", "poddisruptionbudget"]) {
        const items = await children(ns.name, "iris", kind);
        assert.ok(items.length > 0, `a ${kind} exists`);
        for (const o of items)
          assert.equal(
            o.metadata.ownerReferences?.[0]?.uid,
            md.metadata.uid,
            `${kind} ${o.metadata.name} is owned`,
          );
      }
      const table = (await kubectl(["get", "md", "iris", "-n", ns.name])).stdout;
      assert.match(table, /NAME\s+MODEL\s+VERSION\s+STRATEGY\s+WEIGHTS\s+READY\s+DRIFT\s+AGE/);
      assert.match(table, /iris\s+iris\s+1\.0\.0\s+rolling\s+stable 100\s+True/);
    },
  );

  test(
    "Given a GPU model, When applied, Then its pods land on GPU nodes and an HPA scales the ModelDeployment",
    slow,
    async () => {
      await apply(example("gpu-autoscaling.yaml", ns.name, (md) => delete md.spec.scheduling));
      await waitCondition(ns.name, "resnet", "Ready", "True");
      const pods = await children(ns.name, "resnet", "pods");
      assert.equal(pods.length, 2);
      for (const p of pods) assert.match(p.spec.nodeName, /^kwok-gpu-h100-/);
      const [hpa] = await children(ns.name, "resnet", "hpa");
      assert.deepEqual(hpa?.spec.scaleTargetRef, {
        apiVersion: "modelship.io/v1alpha1",
        kind: "ModelDeployment",
        name: "resnet",
      });
    },
  );

  test(
    "When the model version changes, Then a new revision replaces the old one; kubectl scale works",
    slow,
    async () => {
      const before = (await children(ns.name, "iris", "deployment")).map((d) => d.metadata.name);
      await apply(example("quickstart-cpu.yaml", ns.name, (md) => (md.spec.model.version = "1.1.0")));
      await waitFor("the new revision serving and the old one gone", async () => {
        const md = await getMd(ns.name, "iris");
        const deps = await children(ns.name, "iris", "deployment");
        return (
          md.status?.modelVersion === "1.1.0" &&
          deps.length === 1 &&
          !before.includes(deps[0]!.metadata.name) &&
          condition(md, "Ready")?.status === "True"
        );
      });
      const md = await getMd(ns.name, "iris");
      assert.deepEqual(md.status.history.map((h: Obj) => h.outcome).slice(-2), ["Superseded", "Promoted"]);
      await kubectl(["scale", "md/iris", "-n", ns.name, "--replicas=3"]);
      await waitFor(
        "3 ready replicas",
        async () => (await getMd(ns.name, "iris")).status?.readyReplicas === 3,
      );
      const [dep] = await children(ns.name, "iris", "deployment");
      assert.equal(dep?.spec.replicas, 3);
    },
  );

  test(
    "Given a converged world, When resyncs happen, Then the controller makes zero write calls",
    slow,
    async () => {
      await waitCondition(ns.name, "iris", "Ready", "True");
      await new Promise((r) => setTimeout(r, 3000));
      const before = await ctl.metric("modelship_controller_writes_total");
      const resyncsBefore = await ctl.metric("modelship_reconciles_total");
      await new Promise((r) => setTimeout(r, 25_000)); // > 2 resync periods of 10 s
      const after = await ctl.metric("modelship_controller_writes_total");
      const resyncsAfter = await ctl.metric("modelship_reconciles_total");
      assert.ok(resyncsAfter > resyncsBefore, "reconciles happened");
      assert.equal(after - before, 0, "no write calls on resync");
    },
  );

  test(
    "When a child is deleted or edited by hand, Then it is restored; fields owned by others are left alone",
    slow,
    async () => {
      await kubectl(["delete", "service", "iris", "-n", ns.name]);
      await waitFor("the Service restored", async () =>
        (await children(ns.name, "iris", "service")).some((s) => s.metadata.name === "iris"),
      );
      await kubectl(["label", "service", "iris", "-n", ns.name, "team=payments"]);
      const [dep] = await children(ns.name, "iris", "deployment");
      await kubectl([
        "patch",
        "deployment",
        dep!.metadata.name,
        "-n",
        ns.name,
        "--type=merge",
        "-p",
        '{"spec":{"revisionHistoryLimit":7}}',
      ]);
      await waitFor(
        "the hand edit reverted",
        async () => (await children(ns.name, "iris", "deployment"))[0]?.spec.revisionHistoryLimit === 1,
      );
      const svc = (await children(ns.name, "iris", "service")).find((s) => s.metadata.name === "iris");
      assert.equal(svc?.metadata.labels.team, "payments", "a label someone else added stays");
      // The autoscaler's writes (spec.replicas through /scale) are followed, never reverted.
      await kubectl(["scale", "md/resnet", "-n", ns.name, "--replicas=3"]);
      await waitFor(
        "the autoscaler's replicas followed",
        async () => (await children(ns.name, "resnet", "deployment"))[0]?.spec.replicas === 3,
      );
      assert.equal((await getMd(ns.name, "resnet")).spec.replicas, 3);
    },
  );

  test(
    "Given a pvc:// model whose claim is missing, Then it is Degraded naming the field and nothing is applied; creating the claim heals it",
    slow,
    async () => {
      await apply(
        example("quickstart-cpu.yaml", ns.name, (md) => {
          md.metadata.name = "frompvc";
          md.spec.model.uri = "pvc://missing-store/iris/model.onnx";
          delete md.spec.monitoring;
        }),
      );
      const md = await waitCondition(ns.name, "frompvc", "Degraded", "True", "PVCNotFound");
      assert.match(
        condition(md, "Degraded").message,
        /spec\.model\.uri: PersistentVolumeClaim .*missing-store does not exist/,
      );
      assert.equal((await children(ns.name, "frompvc", "deployment")).length, 0, "no half-applied children");
      const events = await kubectlJson<{ items: Obj[] }>([
        "get",
        "events",
        "-n",
        ns.name,
        "--field-selector",
        "involvedObject.name=frompvc",
      ]);
      assert.ok(
        events.items.some((e) => e.reason === "PVCNotFound"),
        "an Event says why",
      );
      await boundClaim(ns.name, "missing-store");
      // The slow retry (60 s) picks it up; the claim's own event does not trigger a reconcile.
      await waitCondition(ns.name, "frompvc", "Degraded", "False", undefined, 150_000);
    },
  );

  test(
    "Given a GPU product no node offers, Then it is Degraded with GPUProductUnavailable",
    slow,
    async () => {
      await apply(
        example("gpu-autoscaling.yaml", ns.name, (md) => {
          md.metadata.name = "nogpu";
          delete md.spec.scheduling;
          md.spec.resources.gpu.product = "NVIDIA-B200";
        }),
      );
      const md = await waitCondition(ns.name, "nogpu", "Degraded", "True", "GPUProductUnavailable");
      assert.match(
        condition(md, "Degraded").message,
        /spec\.resources\.gpu\.product: no node offers NVIDIA-B200 \(offered: .*NVIDIA-H100-80GB-HBM3/,
      );
    },
  );

  for (const [label, reason] of [
    ["modelship.io/e2e-crashloop", /CrashLoopBackOff|ContainerCrashing/],
    ["modelship.io/e2e-fail", /PodFailed|ContainerCrashing/],
  ] as const) {
    test(
      `Given pods labelled ${label}, Then the ModelDeployment is not Ready and Degraded says why`,
      slow,
      async () => {
        const name = label.endsWith("fail") ? "failing" : "crashing";
        await apply(
          example("quickstart-cpu.yaml", ns.name, (md) => {
            md.metadata.name = name;
            md.spec.replicas = 1;
            md.spec.podMetadata = { labels: { [label]: "true" } };
          }),
        );
        const md = await waitCondition(ns.name, name, "Degraded", "True", "PodsFailing");
        assert.equal(condition(md, "Ready").status, "False");
        assert.match(condition(md, "Degraded").message, reason);
      },
    );
  }

  test(
    "Given pods that never become Ready, Then Ready stays False and the progress deadline marks it Degraded",
    slow,
    async () => {
      await apply(
        example("quickstart-cpu.yaml", ns.name, (md) => {
          md.metadata.name = "neverready";
          md.spec.replicas = 1;
          md.spec.podMetadata = { labels: { "modelship.io/e2e-never-ready": "true" } };
          md.spec.rollout = { progressDeadlineSeconds: 30 };
        }),
      );
      const md = await waitCondition(ns.name, "neverready", "Ready", "False", "ReplicasNotReady");
      assert.equal(condition(md, "Progressing").status, "True");
      const degraded = await waitCondition(ns.name, "neverready", "Degraded", "True", "PodsFailing", 150_000);
      assert.match(condition(degraded, "Degraded").message, /ProgressDeadlineExceeded|progress deadline/i);
    },
  );

  test(
    "Given Gateway API and Istio CRDs, When every example is applied, Then each is Ready with its children owned (KEDA absent: Degraded says so)",
    slow,
    async () => {
      if (clusterEnv().bundled)
        await run("bash", [join(repoRoot, "e2e/cluster/install-crds.sh")], { timeoutMs: 300_000 });
      // The bundled cluster gives every test namespace its model-store claim; elsewhere make one.
      else await boundClaim(ns.name, "model-store");
      const ready = { "canary.yaml": "fraud", "bluegreen.yaml": "churn" } as const;
      for (const [file, name] of Object.entries(ready)) {
        await apply(example(file, ns.name));
        const md = await waitCondition(ns.name, name, "Ready", "True", undefined, 240_000);
        const kinds =
          file === "canary.yaml"
            ? ["deployment", "service", "httproute", "cronjob"]
            : ["deployment", "service", "virtualservice"];
        for (const kind of kinds) {
          const items = await children(ns.name, name, kind);
          assert.ok(items.length > 0, `${file}: a ${kind} exists`);
          for (const o of items) assert.equal(o.metadata.ownerReferences?.[0]?.uid, md.metadata.uid);
        }
      }
      const [route] = await children(ns.name, "fraud", "httproute");
      assert.deepEqual(
        route?.spec.rules.at(-1).backendRefs.map((b: Obj) => [b.name, b.weight]),
        [["fraud-stable", 100]],
      );
      await apply(example("custom-container.yaml", ns.name));
      const pricing = await waitCondition(ns.name, "pricing", "Degraded", "True", "ProviderNotInstalled");
      // minReplicas 0: scale to zero through KEDA and its HTTP add-on, both named when absent
      assert.match(
        condition(pricing, "Degraded").message,
        /spec\.autoscaling\.minReplicas: KEDA \(ScaledObject\) is not installed/,
      );
      assert.match(
        condition(pricing, "Degraded").message,
        /spec\.autoscaling\.activation: KEDA's HTTP add-on \(HTTPScaledObject\) is not installed/,
      );
    },
  );

  test(
    "When a ModelDeployment is deleted, Then the garbage collector removes every child",
    slow,
    async () => {
      await kubectl(["delete", "md", "iris", "-n", ns.name, "--wait=true"]);
      await waitFor("children gone", async () => {
        const left = (
          await Promise.all(["deployment", "service", "pdb", "pods"].map((k) => children(ns.name, "iris", k)))
        ).flat();
        return left.length === 0;
      });
    },
  );
});

describe("controller restarts and failures", () => {
  let ns: TestNamespace;
  before(async () => {
    ns = await createNamespace("crash");
  });
  after(async () => ns?.delete());

  test(
    "When the controller is killed -9 mid-reconcile and restarted, Then everything converges with nothing duplicated",
    slow,
    async () => {
      let ctl = await startController(["--leader-elect=false", "--namespaces", ns.name]);
      for (let i = 0; i < 8; i++)
        await apply(example("quickstart-cpu.yaml", ns.name, (md) => (md.metadata.name = `m${i}`)));
      await waitFor(
        "the first children",
        async () =>
          (await kubectlJson<{ items: Obj[] }>(["get", "deployments", "-n", ns.name])).items.length > 0,
      );
      await ctl.stop("SIGKILL");
      ctl = await startController(["--leader-elect=false", "--namespaces", ns.name]);
      try {
        for (let i = 0; i < 8; i++) await waitCondition(ns.name, `m${i}`, "Ready", "True");
        const deps = (await kubectlJson<{ items: Obj[] }>(["get", "deployments", "-n", ns.name])).items;
        assert.equal(deps.length, 8, "one Deployment per ModelDeployment");
        const svcs = (await kubectlJson<{ items: Obj[] }>(["get", "services", "-n", ns.name])).items;
        assert.equal(svcs.length, 16, "an endpoint and a stable Service each");
      } finally {
        await ctl.stop();
      }
    },
  );

  test(
    "When kube-apiserver restarts under a running controller, Then it recovers without restarting",
    slow,
    async () => {
      const ctl = await startController(["--leader-elect=false", "--namespaces", ns.name]);
      try {
        await waitFor(
          "controller ready",
          async () => (await fetch(ctl.metricsUrl.replace("/metrics", "/readyz"))).ok,
        );
        const { restartApiServer } = await import("./controller/apiserver.js");
        await restartApiServer();
        await apply(example("quickstart-cpu.yaml", ns.name, (md) => (md.metadata.name = "after-restart")));
        await waitCondition(ns.name, "after-restart", "Ready", "True", undefined, 180_000);
        assert.equal(ctl.proc.exitCode, null, "the controller kept running");
        assert.ok((await ctl.metric("modelship_watch_restarts_total")) > 0, "its watches restarted");
      } finally {
        await ctl.stop();
      }
    },
  );

  test(
    "Given two controllers, Then exactly one leads; When it is killed, Then the other takes over within ~17 s",
    slow,
    async () => {
      const args = [
        "--namespaces",
        ns.name,
        "--leader-election-namespace",
        ns.name,
        "--leader-election-id",
        "e2e-leader",
      ];
      const a = await startController(args);
      const b = await startController(args);
      try {
        const lease = await waitFor("a holder", async () => {
          const l = await kubectlJson<Obj>(["get", "lease", "e2e-leader", "-n", ns.name]).catch(
            () => undefined,
          );
          return l?.spec?.holderIdentity ? l : undefined;
        });
        const holder: string = lease.spec.holderIdentity;
        await new Promise((r) => setTimeout(r, 3000));
        const leaders = [a, b].filter((c) => c.logs().includes("Acquired leader lease"));
        assert.equal(leaders.length, 1, "exactly one acquired the lease");
        const leader = leaders[0]!;
        const other = leader === a ? b : a;
        const killedAt = Date.now();
        await leader.stop("SIGKILL");
        await waitFor("the other takes over", () => other.logs().includes("Acquired leader lease"), {
          timeoutMs: 40_000,
          intervalMs: 200,
        });
        const tookMs = Date.now() - killedAt;
        assert.ok(tookMs < 25_000, `took over after ${tookMs} ms (lease 15 s + retry 2 s)`);
        const after = await kubectlJson<Obj>(["get", "lease", "e2e-leader", "-n", ns.name]);
        assert.notEqual(after.spec.holderIdentity, holder);
        await apply(example("quickstart-cpu.yaml", ns.name, (md) => (md.metadata.name = "under-new-leader")));
        await waitCondition(ns.name, "under-new-leader", "Ready", "True");
      } finally {
        await a.stop();
        await b.stop();
      }
    },
  );
});
