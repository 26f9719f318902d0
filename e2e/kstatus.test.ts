// What GitOps tools see of a ModelDeployment through a canary, on the real control plane with the
// controller as a host process and simulated pods: the real kstatus library (e2e/tools/kstatus, what Flux
// and kpt wait on) and Argo CD's health check run on gopher-lua (e2e/tools/argolua with
// charts/modelship/files/argocd-health.lua) judge each object the API server returns.
// Run with `npm run test:e2e -- kstatus`. E2E_CAPTURE_FIXTURES=DIR writes the objects judged at each
// point to DIR (src/controller/testdata/gitops holds a committed set).
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { goTool, runTool } from "../src/controller/testing/go-tools.js";
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

type Obj = Record<string, any>;
interface Judged {
  md: Obj;
  kstatus: { status: string; message: string };
  argo: { status: string; message: string };
}

const slow = { timeout: 400_000 };
const healthScript = join(repoRoot, "charts/modelship/files/argocd-health.lua");
const kstatusTool = goTool("kstatus");
const argoTool = goTool("argolua");
const skip = !clusterEnv().bundled
  ? "needs the bundled cluster's kwok fault labels"
  : kstatusTool.skip || argoTool.skip;

function canaryMd(ns: string, version: string, extra: Obj = {}, rollout: Obj = {}): Obj {
  return {
    apiVersion: "modelship.io/v1alpha1",
    kind: "ModelDeployment",
    metadata: { name: "fraud", namespace: ns },
    spec: {
      model: { name: "fraud", version, uri: `https://models.example.com/fraud/${version}/model.onnx` },
      replicas: 2,
      resources: { cpu: "100m", memory: "128Mi" },
      rollout: {
        strategy: "canary",
        canary: { steps: [{ setWeight: 50 }, { pause: {} }] },
        ...rollout,
      },
      traffic: { provider: "gatewayAPI", parentRefs: [{ name: "inference-gateway" }] },
      ...extra,
    },
  };
}

const cond = (md: Obj, type: string) => (md.status?.conditions ?? []).find((c: Obj) => c.type === type);
const cli = (args: string[]) =>
  run(
    process.execPath,
    ["--import", "tsx", join(repoRoot, "bin/dev.ts"), ...args, "--kubeconfig", clusterEnv().kubeconfig],
    { timeoutMs: 60_000 },
  );

/** The object as the API server has it now, with kstatus's and Argo CD's verdicts. */
async function judge(ns: string): Promise<Judged> {
  const md = await kubectlJson<Obj>(["get", "md", "fraud", "-n", ns]);
  return {
    md,
    kstatus: runTool(kstatusTool.path!, [], md),
    argo: runTool(argoTool.path!, [healthScript], md),
  };
}

/** Judges until `done` holds, keeping every verdict seen on the way. */
async function watch(
  ns: string,
  what: string,
  done: (j: Judged) => boolean,
  timeoutMs = 180_000,
): Promise<{ seen: Judged[]; last: Judged }> {
  const seen: Judged[] = [];
  const last = await waitFor(
    what,
    async () => {
      const j = await judge(ns);
      seen.push(j);
      return done(j) ? j : undefined;
    },
    { timeoutMs, intervalMs: 250 },
  );
  return { seen, last };
}

function capture(name: string, md: Obj): void {
  const dir = process.env.E2E_CAPTURE_FIXTURES;
  if (!dir) return;
  const { name: n, namespace, generation } = md.metadata;
  const kept = { apiVersion: md.apiVersion, kind: md.kind, metadata: { name: n, namespace, generation } };
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, `${name}.json`),
    JSON.stringify({ ...kept, spec: md.spec, status: md.status }, null, 2) + "\n",
  );
}

const brief = (j: Judged) =>
  `gen ${j.md.metadata.generation}/${j.md.status?.observedGeneration} kstatus ${j.kstatus.status} argo ${j.argo.status}: ${j.kstatus.message}`;

describe("kstatus and Argo CD health through a canary", { skip }, () => {
  let ns: TestNamespace;
  let ctl: ControllerProcess;
  before(async () => {
    await kubectl(["apply", "--server-side", "--force-conflicts", "-f", join(repoRoot, "crds")]);
    await run("bash", [join(repoRoot, "e2e/cluster/install-crds.sh")], { timeoutMs: 300_000 });
    ns = await createNamespace("kstatus");
    ctl = await startController(["--leader-elect=false", "--namespaces", ns.name]);
  });
  after(async () => {
    const code = await ctl?.stop();
    if (code !== 0) console.error(ctl.logs().slice(-5000));
    await ns?.delete();
  });

  test(
    "Given v1 serving, When v2 walks its canary steps, Then kstatus says InProgress at every step and the pause and Current once promoted; Argo CD Progressing, Suspended, Healthy",
    slow,
    async () => {
      await kubectlApply(JSON.stringify(canaryMd(ns.name, "v1")));
      // kstatus calls an object without any status Current (its documented blind spot), so wait for the
      // controller's first status before judging.
      const v1 = (
        await watch(
          ns.name,
          "v1 Current",
          (j) => j.md.status?.observedGeneration === 1 && j.kstatus.status === "Current",
        )
      ).last;
      assert.equal(cond(v1.md, "Ready")?.status, "True");
      assert.equal(v1.argo.status, "Healthy", v1.argo.message);
      capture("healthy", v1.md);

      await kubectlApply(JSON.stringify(canaryMd(ns.name, "v2")));
      const toPause = await watch(ns.name, "v2 paused at its pause step", (j) =>
        Boolean(j.md.metadata.generation === 2 && cond(j.md, "Paused")?.status === "True"),
      );
      const afterApply = toPause.seen.filter((j) => j.md.metadata.generation === 2);
      for (const j of afterApply) {
        assert.equal(j.kstatus.status, "InProgress", brief(j));
        assert.ok(["Progressing", "Suspended"].includes(j.argo.status), brief(j));
      }
      const paused = toPause.last;
      assert.equal(paused.md.status.traffic.startsWith("stable 50 / canary 50"), true);
      assert.equal(cond(paused.md, "Reconciling")?.status, "True");
      assert.equal(cond(paused.md, "Reconciling")?.reason, "RolloutPaused");
      assert.equal(cond(paused.md, "Ready")?.status, "False", "v1 serves, but v2 is what the spec asks for");
      assert.match(paused.kstatus.message, /paused at step 2\/2/);
      assert.equal(paused.argo.status, "Suspended", paused.argo.message);
      capture("suspended", paused.md);

      await cli(["promote", "fraud", "-n", ns.name]);
      const promoted = await watch(ns.name, "v2 Current", (j) => j.kstatus.status === "Current");
      for (const j of promoted.seen.slice(0, -1)) assert.equal(j.kstatus.status, "InProgress", brief(j));
      const done = promoted.last;
      assert.equal(done.md.status.modelVersion, "v2");
      assert.equal(done.md.status.canaryRevision, undefined);
      assert.equal(cond(done.md, "Ready")?.status, "True");
      assert.equal(done.argo.status, "Healthy", done.argo.message);
      for (const c of done.md.status.conditions.filter((x: Obj) => x.type !== "DriftDetected"))
        assert.equal(c.observedGeneration, done.md.metadata.generation, `${c.type} observedGeneration`);
    },
  );

  test(
    "When v3's pods never become ready (autoRollback off), Then kstatus says InProgress until the progress deadline and Failed after it, also once aborted; Argo CD Progressing, then Degraded; going back to v2 makes it Current",
    slow,
    async () => {
      const v3 = canaryMd(
        ns.name,
        "v3",
        { podMetadata: { labels: { "modelship.io/e2e-never-ready": "true" } } },
        { autoRollback: false, progressDeadlineSeconds: 30 },
      );
      await kubectlApply(JSON.stringify(v3));
      const waiting = await watch(
        ns.name,
        "v3's canary waiting for its pods",
        (j) =>
          j.md.status?.observedGeneration === j.md.metadata.generation &&
          Boolean(j.md.status?.canaryRevision) &&
          cond(j.md, "Reconciling")?.status === "True",
      );
      assert.equal(waiting.last.kstatus.status, "InProgress", brief(waiting.last));
      assert.equal(waiting.last.argo.status, "Progressing", waiting.last.argo.message);
      capture("progressing", waiting.last.md);

      const stalled = await watch(ns.name, "v3 Failed", (j) => j.kstatus.status === "Failed");
      for (const j of stalled.seen.slice(0, -1)) assert.equal(j.kstatus.status, "InProgress", brief(j));
      const failed = stalled.last;
      // The rollout's own deadline or the candidate Deployment's (the same number of seconds), whichever
      // the controller sees first.
      assert.match(cond(failed.md, "Stalled")?.reason, /^(ProgressDeadlineExceeded|PodsFailed)$/);
      assert.match(failed.kstatus.message, /ProgressDeadlineExceeded|without progress/);
      assert.equal(failed.argo.status, "Degraded", failed.argo.message);
      assert.equal(failed.md.status.modelVersion, "v2", "v2 keeps serving");
      capture("degraded-progress-deadline", failed.md);

      await cli(["abort", "fraud", "-n", ns.name]);
      const aborted = (
        await watch(ns.name, "v3 rolled back", (j) => cond(j.md, "RolledBack")?.status === "True")
      ).last;
      assert.equal(aborted.kstatus.status, "Failed", brief(aborted));
      assert.equal(cond(aborted.md, "Stalled")?.reason, "Aborted");
      assert.equal(aborted.argo.status, "Degraded", aborted.argo.message);
      capture("degraded-rolled-back", aborted.md);

      await kubectlApply(JSON.stringify(canaryMd(ns.name, "v2")));
      const back = await watch(
        ns.name,
        "back on v2: Current",
        (j) => j.md.metadata.generation === j.md.status?.observedGeneration && j.kstatus.status === "Current",
      );
      assert.equal(back.last.argo.status, "Healthy", back.last.argo.message);
    },
  );
});
