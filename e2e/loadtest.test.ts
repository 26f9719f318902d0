// The rollout's loadTest step on real pods: the chart's controller renders the load-test Job, the Job (this
// checkout's image) loads the canary's Service and then stable's, reads the pods' memory from their
// /metrics and writes status.loadTest; the rollout promotes on a pass and rolls back on a figure over its
// limit. Run with `npm run test:e2e -- loadtest`.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import yaml from "js-yaml";
import {
  clusterEnv,
  createNamespace,
  helm,
  kubectl,
  kubectlJson,
  repoRoot,
  run,
  waitFor,
  type TestNamespace,
} from "./lib/index.js";
import { installChart } from "./lib/chart.js";

type Obj = Record<string, any>;

const env = clusterEnv();
const release = "ms-loadtest";
const systemNs = "ms-loadtest-system";
const slow = { timeout: 900_000 };
let ns: TestNamespace;

function example(file: string, mutate: (md: Obj) => void = () => {}): Obj {
  const md = yaml.load(readFileSync(join(repoRoot, "examples", file), "utf8")) as Obj;
  md.metadata.namespace = ns.name;
  md.spec.replicas = 1;
  delete md.spec.monitoring;
  mutate(md);
  return md;
}

async function apply(md: Obj) {
  await kubectl(["apply", "-f", "-"], { input: JSON.stringify(md) });
}

const getMd = (name: string) => kubectlJson<Obj>(["get", "md", name, "-n", ns.name]);
const cond = (m: Obj, type: string) => (m.status?.conditions ?? []).find((c: Obj) => c.type === type);

/** The example's canary with one loadTest step of `thresholds` (gentle enough for a loaded 2-core machine), then setWeight 50. */
function canaryWith(version: string, thresholds: Obj): Obj {
  return example("canary-loadtest.yaml", (m) => {
    m.spec.model.version = version;
    m.spec.rollout.canary.steps = [
      { loadTest: { rate: 20, duration: "15s", payload: { synthetic: { batchSize: 2 } }, ...thresholds } },
      { setWeight: 50 },
    ];
  });
}

before(async () => {
  await run("bash", [join(repoRoot, "scripts/image.sh")], { timeoutMs: 1_200_000 });
  await run("bash", [join(repoRoot, "e2e/cluster/load-images.sh")], { timeoutMs: 300_000 });
  // helm installs CRDs only once: this checkout's CRD (with the loadTest step) as a platform team upgrades it
  await kubectl(["apply", "--server-side", "--force-conflicts", "-f", join(repoRoot, "crds")]);
  ns = await createNamespace("loadtest", env, { pods: "real" });
  await installChart(release, systemNs, ns.name, ["--set", "controller.replicas=1"]);
});

after(async () => {
  await helm(["uninstall", release, "-n", systemNs, "--wait"], { allowFailure: true, timeoutMs: 300_000 });
  await kubectl(["delete", "namespace", systemNs, "--ignore-not-found", "--wait=false"], {
    allowFailure: true,
  });
  await ns?.delete();
});

describe(
  "the loadTest step on real pods",
  { skip: !env.bundled && "needs the bundled cluster's real node" },
  () => {
    test(
      "Given iris 1.0.0 serving, When a canary's load test is within its limits, Then status.loadTest holds both sides' figures and the canary is promoted",
      slow,
      async () => {
        await apply(example("quickstart-cpu.yaml"));
        await waitFor("iris 1.0.0 Ready", async () => cond(await getMd("iris"), "Ready")?.status === "True", {
          timeoutMs: 300_000,
        });

        await apply(
          canaryWith("2.0.0", {
            maxP99Ms: 5000,
            maxErrorRate: 0.05,
            maxMemoryMiB: 2048,
            maxP99RatioToStable: 100,
          }),
        );
        const jobs = new Set<string>();
        const m = await waitFor(
          "iris 2.0.0 promoted",
          async () => {
            const list = await kubectlJson<{ items: Obj[] }>([
              "get",
              "jobs",
              "-n",
              ns.name,
              "-l",
              "app.kubernetes.io/component=loadtest",
            ]);
            for (const j of list.items) jobs.add(j.metadata.name);
            const x = await getMd("iris");
            if (cond(x, "RolledBack")?.status === "True")
              throw new Error(`rolled back: ${cond(x, "RolledBack").message}`);
            return x.status?.modelVersion === "2.0.0" && x.status.phase === "Healthy" ? x : undefined;
          },
          { timeoutMs: 600_000, intervalMs: 2_000 },
        ).catch(async (err: Error) => {
          throw new Error(`${err.message}; status: ${JSON.stringify((await getMd("iris")).status)}`);
        });

        const lt = m.status.loadTest;
        console.log(`[loadtest] passed: ${JSON.stringify(lt)}`);
        assert.equal(lt.phase, "Completed");
        assert.equal(lt.verdict, "Passed");
        assert.equal(lt.step, 0);
        assert.equal(lt.candidate.requests, 300, "20/s for 15s");
        assert.equal(lt.candidate.errors, 0, JSON.stringify(lt.candidate));
        assert.ok(
          lt.candidate.p50Ms > 0 && lt.candidate.p99Ms >= lt.candidate.p50Ms,
          JSON.stringify(lt.candidate),
        );
        assert.ok(lt.candidate.memoryMiB > 10, `the canary pod's memory was read: ${lt.candidate.memoryMiB}`);
        assert.equal(lt.candidate.pods, 1);
        assert.equal(lt.stable.requests, 300, "stable loaded the same way for the ratio");
        assert.ok(lt.stable.memoryMiB > 10);
        assert.ok(jobs.size >= 1, "the controller ran a load-test Job");
        // the finished run's Job goes with the step
        await waitFor(
          "the load-test Job pruned",
          async () =>
            (
              await kubectlJson<{ items: Obj[] }>([
                "get",
                "jobs",
                "-n",
                ns.name,
                "-l",
                "app.kubernetes.io/component=loadtest",
              ])
            ).items.length === 0,
          { timeoutMs: 120_000 },
        );
      },
    );

    test(
      "Given iris 2.0.0 serving, When a canary's load test meets an impossible p99 and memory limit, Then it rolls back with each figure and its limit in the message",
      slow,
      async () => {
        await apply(canaryWith("3.0.0", { maxP99Ms: 0.001, maxMemoryMiB: 1 }));
        const m = await waitFor(
          "iris 3.0.0 rolled back",
          async () => {
            const x = await getMd("iris");
            return cond(x, "RolledBack")?.status === "True" ? x : undefined;
          },
          { timeoutMs: 600_000, intervalMs: 2_000 },
        ).catch(async (err: Error) => {
          throw new Error(`${err.message}; status: ${JSON.stringify((await getMd("iris")).status)}`);
        });
        const rolledBack = cond(m, "RolledBack");
        console.log(`[loadtest] rolled back: ${rolledBack.message}; ${JSON.stringify(m.status.loadTest)}`);
        assert.equal(rolledBack.reason, "LoadTestFailed");
        assert.match(rolledBack.message, /loadTest: candidate p99 [0-9.]+ ms > maxP99Ms 0\.001/);
        assert.match(rolledBack.message, /candidate memory [0-9.]+ MiB > maxMemoryMiB 1\b/);
        assert.equal(m.status.loadTest.verdict, "Failed");
        assert.equal(m.status.loadTest.stable, undefined, "no ratio threshold: stable is not loaded");
        assert.equal(m.status.modelVersion, "2.0.0", "stable still serves");
        assert.equal(m.status.phase, "RolledBack");
      },
    );
  },
);
