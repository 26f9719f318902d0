// Safe rollouts on the real control plane: canary walk with HTTPRoute weights, A/B header route and shadow
// mirror, promote with the CLI, automatic rollback of failing pods, blue-green preview then promote, and a
// GPU rollout waiting for capacity. Run with `npm run test:e2e -- rollout`.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startController, type ControllerProcess } from "./controller/harness.js";
import {
  clusterEnv,
  createNamespace,
  kubectl,
  kubectlApply,
  kubectlJson,
  repoRoot,
  run,
  waitFor,
  type TestNamespace,
} from "./lib/index.js";

const slow = { timeout: 400_000 };
type Obj = Record<string, any>;

function canaryMd(ns: string, version: string, extra: Obj = {}): Obj {
  return {
    apiVersion: "modelship.io/v1alpha1",
    kind: "ModelDeployment",
    metadata: { name: "fraud", namespace: ns },
    spec: {
      model: { name: "fraud", version, uri: `https://models.example.com/fraud/${version}/model.onnx` },
      replicas: 4,
      resources: { cpu: "100m", memory: "128Mi" },
      rollout: {
        strategy: "canary",
        progressDeadlineSeconds: 60,
        canary: {
          steps: [
            { setWeight: 25 },
            { setHeaderRoute: { match: [{ name: "x-cohort", value: "beta" }] } },
            { setMirror: { percent: 50 } },
            { pause: {} },
            { setWeight: 75 },
          ],
        },
      },
      // the router copies (RequestMirror) here; the data-plane mirror is covered on real pods
      traffic: { provider: "gatewayAPI", parentRefs: [{ name: "inference-gateway" }], mirror: "router" },
      ...extra,
    },
  };
}

const getMd = (ns: string, name: string) => kubectlJson<Obj>(["get", "md", name, "-n", ns]);
const cond = (md: Obj, type: string) => (md.status?.conditions ?? []).find((c: Obj) => c.type === type);
const cli = (args: string[]) =>
  run(
    process.execPath,
    ["--import", "tsx", join(repoRoot, "bin/dev.ts"), ...args, "--kubeconfig", clusterEnv().kubeconfig],
    { timeoutMs: 60_000 },
  );

async function route(ns: string): Promise<Obj> {
  return kubectlJson<Obj>(["get", "httproute", "fraud", "-n", ns]);
}
function weights(r: Obj): [string, number][] {
  return r.spec.rules.at(-1).backendRefs.map((b: Obj) => [b.name, b.weight]);
}

describe("rollouts", () => {
  let ns: TestNamespace;
  let ctl: ControllerProcess;
  before(async () => {
    await kubectl(["apply", "--server-side", "--force-conflicts", "-f", join(repoRoot, "crds")]);
    if (clusterEnv().bundled)
      await run("bash", [join(repoRoot, "e2e/cluster/install-crds.sh")], { timeoutMs: 300_000 });
    ns = await createNamespace("rollout");
    ctl = await startController(["--leader-elect=false", "--namespaces", ns.name]);
  });
  after(async () => {
    const code = await ctl?.stop();
    if (code !== 0) console.error(ctl.logs().slice(-5000));
    await ns?.delete();
  });

  test(
    "Given a stable canary-strategy model, When the version changes, Then the canary walks its steps (weights, header route, mirror), pauses, and the CLI promotes it",
    slow,
    async () => {
      await kubectlApply(JSON.stringify(canaryMd(ns.name, "v1")));
      await waitFor("v1 Ready", async () => cond(await getMd(ns.name, "fraud"), "Ready")?.status === "True");
      assert.deepEqual(weights(await route(ns.name)), [["fraud-stable", 100]]);

      await kubectlApply(JSON.stringify(canaryMd(ns.name, "v2")));
      await waitFor(
        "canary at 25%",
        async () =>
          JSON.stringify(weights(await route(ns.name))) ===
          JSON.stringify([
            ["fraud-stable", 75],
            ["fraud-canary", 25],
          ]),
      );
      const paused = await waitFor("paused at the indefinite pause", async () => {
        const md = await getMd(ns.name, "fraud");
        return cond(md, "Paused")?.status === "True" ? md : undefined;
      });
      assert.equal(paused.status.currentStepIndex, 3);
      const r = await route(ns.name);
      assert.deepEqual(
        r.spec.rules[0].matches[0].headers,
        [{ name: "x-cohort", value: "beta", type: "Exact" }],
        "A/B header rule",
      );
      assert.deepEqual(
        r.spec.rules[0].backendRefs.map((b: Obj) => b.name),
        ["fraud-canary"],
      );
      const mirror = r.spec.rules.at(-1).filters?.find((f: Obj) => f.type === "RequestMirror");
      assert.equal(mirror?.requestMirror.backendRef.name, "fraud-canary");
      assert.equal(mirror?.requestMirror.percent, 50);
      assert.equal(paused.status.traffic.startsWith("stable 75 / canary 25"), true);

      const status = await cli(["status", "fraud", "-n", ns.name]);
      assert.match(status.stdout, /fraud/);
      await cli(["promote", "fraud", "-n", ns.name]);
      // The last weight step is brief (it completes as soon as its pods are up, then promotes): the Events
      // prove it ran.
      const done = await waitFor("promoted: v2 stable, all traffic on it", async () => {
        const md = await getMd(ns.name, "fraud");
        return md.status?.modelVersion === "v2" &&
          !md.status?.canaryRevision &&
          JSON.stringify(weights(await route(ns.name))) === JSON.stringify([["fraud-stable", 100]])
          ? md
          : undefined;
      });
      assert.ok(done.status.history.some((h: Obj) => h.outcome === "Promoted" && h.modelVersion === "v2"));
      const events = await kubectlJson<{ items: Obj[] }>([
        "get",
        "events",
        "-n",
        ns.name,
        "--field-selector",
        "involvedObject.name=fraud",
      ]);
      const messages = events.items.map((e) => e.message).join("\n");
      for (const step of [
        "step 1/5 (setWeight 25)",
        "step 2/5 (setHeaderRoute)",
        "step 3/5 (setMirror 50)",
        "step 5/5 (setWeight 75)",
      ])
        assert.ok(messages.includes(step), `an Event for ${step}`);
    },
  );

  test(
    "When a candidate's pods fail, Then it is rolled back automatically: traffic 100% stable, RolledBack condition, history",
    slow,
    async () => {
      await kubectlApply(
        JSON.stringify(
          canaryMd(ns.name, "v3", { podMetadata: { labels: { "modelship.io/e2e-fail": "true" } } }),
        ),
      );
      const md = await waitFor("rolled back", async () => {
        const m = await getMd(ns.name, "fraud");
        return cond(m, "RolledBack")?.status === "True" ? m : undefined;
      });
      assert.match(cond(md, "RolledBack").reason, /PodsFailed|ProgressDeadlineExceeded/);
      assert.equal(md.status.modelVersion, "v2", "v2 keeps serving");
      await waitFor(
        "route back on stable",
        async () => JSON.stringify(weights(await route(ns.name))) === JSON.stringify([["fraud-stable", 100]]),
      );
      assert.ok(md.status.history.some((h: Obj) => h.outcome === "RolledBack" && h.modelVersion === "v3"));
      const events = await kubectlJson<{ items: Obj[] }>([
        "get",
        "events",
        "-n",
        ns.name,
        "--field-selector",
        "involvedObject.name=fraud",
      ]);
      assert.ok(
        events.items.some((e) => /Roll/.test(e.reason)),
        "an Event records the rollback",
      );
    },
  );

  test(
    "Given blue-green, When the version changes, Then the preview Service serves the new revision until the CLI promotes it",
    slow,
    async () => {
      const bg = (version: string): Obj => ({
        apiVersion: "modelship.io/v1alpha1",
        kind: "ModelDeployment",
        metadata: { name: "churn", namespace: ns.name },
        spec: {
          model: { name: "churn", version, uri: `https://models.example.com/churn/${version}.onnx` },
          replicas: 2,
          resources: { cpu: "100m", memory: "128Mi" },
          rollout: { strategy: "blueGreen", blueGreen: { autoPromote: false, scaleDownDelaySeconds: 5 } },
        },
      });
      await kubectlApply(JSON.stringify(bg("1")));
      await waitFor(
        "blue Ready",
        async () => cond(await getMd(ns.name, "churn"), "Ready")?.status === "True",
      );
      await kubectlApply(JSON.stringify(bg("2")));
      const md = await waitFor("green previewed", async () => {
        const m = await getMd(ns.name, "churn");
        return m.status?.canaryRevision && cond(m, "Paused")?.status === "True" ? m : undefined;
      });
      const svc = async (name: string) =>
        (await kubectlJson<Obj>(["get", "service", name, "-n", ns.name])).spec.selector[
          "modelship.io/revision"
        ];
      assert.equal(await svc("churn-preview"), md.status.canaryRevision);
      assert.equal(await svc("churn"), md.status.stableRevision, "clients still reach blue");
      const green = md.status.canaryRevision;
      await cli(["promote", "churn", "-n", ns.name]);
      await waitFor(
        "green promoted",
        async () =>
          (await svc("churn")) === green && (await getMd(ns.name, "churn")).status?.modelVersion === "2",
      );
    },
  );

  test(
    "Given every H100 GPU in use, When a GPU model rolls out, Then it waits for capacity with a clear condition instead of failing",
    slow,
    async () => {
      const gpuMd = (version: string): Obj => ({
        apiVersion: "modelship.io/v1alpha1",
        kind: "ModelDeployment",
        metadata: { name: "llm", namespace: ns.name },
        spec: {
          model: { name: "llm", version, uri: `https://models.example.com/llm/${version}.onnx` },
          replicas: 3,
          runtime: { executionProvider: "cuda" },
          resources: { cpu: "1", memory: "1Gi", gpu: { count: 8, product: "NVIDIA-H100-80GB-HBM3" } },
          rollout: {
            strategy: "canary",
            progressDeadlineSeconds: 60,
            canary: { steps: [{ setWeight: 50 }] },
          },
        },
      });
      await kubectlApply(JSON.stringify(gpuMd("1")));
      await waitFor(
        "llm v1 Ready on all 24 GPUs",
        async () => cond(await getMd(ns.name, "llm"), "Ready")?.status === "True",
        { timeoutMs: 240_000 },
      );
      await kubectlApply(JSON.stringify(gpuMd("2")));
      const md = await waitFor("waiting for capacity", async () => {
        const m = await getMd(ns.name, "llm");
        return cond(m, "WaitingForCapacity")?.status === "True" ? m : undefined;
      });
      assert.match(cond(md, "WaitingForCapacity").message, /GPU|nvidia/i);
      await new Promise((r) => setTimeout(r, 70_000)); // past the progress deadline
      const later = await getMd(ns.name, "llm");
      assert.notEqual(cond(later, "RolledBack")?.status, "True", "waiting for GPUs is not a failure");
      // kstatus: still in progress (Ready waits for the candidate), never stalled
      assert.equal(cond(later, "Reconciling")?.status, "True");
      assert.equal(cond(later, "Stalled")?.status, "False");
      assert.equal(later.status.modelVersion, "1", "stable keeps serving");
    },
  );
});
