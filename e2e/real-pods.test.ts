// modelship as its users run it, on the real node: the image built here, the chart installed with helm
// (controller and collector as pods with the chart's RBAC), models fetched from the model store by the
// real init container, served by real pods and reached through their Services. Each test is a step of
// one story in one namespace, in order. Run with `npm run test:e2e -- real-pods`.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import yaml from "js-yaml";
import * as ort from "onnxruntime-node";
import { Agent } from "undici";
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
import {
  collectorEventList as eventsOf,
  installChart as installChartIn,
  releaseCollector,
  type Collector,
} from "./lib/chart.js";
import {
  binomialInterval,
  flower,
  mirrorCopies,
  predict,
  serviceUrl as serviceUrlIn,
  type Prediction,
} from "./lib/inference.js";

type Obj = Record<string, any>;

const env = clusterEnv();
const release = "ms-e2e";
const systemNs = "ms-e2e-system";
const slow = { timeout: 600_000 };
const modelFile = join(repoRoot, ".e2e/models/iris/1.0.0/model.onnx");
let ns: TestNamespace;
let collector: Collector;

function example(file: string, mutate: (md: Obj) => void = () => {}): Obj {
  const md = yaml.load(readFileSync(join(repoRoot, "examples", file), "utf8")) as Obj;
  md.metadata.namespace = ns.name;
  mutate(md);
  return md;
}

async function apply(md: Obj) {
  await kubectl(["apply", "-f", "-"], { input: JSON.stringify(md) });
}

async function md(name: string): Promise<Obj> {
  return kubectlJson<Obj>(["get", "md", name, "-n", ns.name]);
}

function condition(m: Obj, type: string): Obj | undefined {
  return (m.status?.conditions ?? []).find((c: Obj) => c.type === type);
}

async function waitCondition(name: string, type: string, status: string, timeoutMs = 240_000): Promise<Obj> {
  return waitFor(
    `md/${name} ${type}=${status}`,
    async () => {
      const m = await md(name);
      return condition(m, type)?.status === status ? m : undefined;
    },
    { timeoutMs },
  );
}

/** The URL of a Service of this test's namespace (or another's). */
const serviceUrl = (name: string, namespace = ns.name) => serviceUrlIn(name, namespace);

/** Every event of this test's namespace the collector holds for a model since `since`. */
const collectorEventList = (model: string, since: Date) => eventsOf(collector, ns.name, model, since);

/** Every event the collector holds for a model since `since`, by id (a duplicate id counts twice). */
async function collectorEvents(model: string, since: Date): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const e of await collectorEventList(model, since)) counts.set(e.id, (counts.get(e.id) ?? 0) + 1);
  return counts;
}

async function expectEventsOnce(model: string, since: Date, ids: string[]) {
  let missing = ids.length;
  const counts = await waitFor(
    `${ids.length} events of ${model} in the collector`,
    async () => {
      const c = await collectorEvents(model, since);
      missing = ids.filter((id) => !c.has(id)).length;
      return missing === 0 ? c : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 2_000 },
  ).catch((err: Error) => {
    throw new Error(`${err.message}; ${missing} of ${ids.length} events never arrived`);
  });
  for (const id of ids) assert.equal(counts.get(id), 1, `event ${id} exactly once`);
}

/**
 * The Service's URL once it answers: Ready pods reach kube-proxy's rules a moment after the
 * ModelDeployment says Ready (EndpointSlice, then the proxy's sync), as on any cluster.
 */
async function answeringService(name: string, model: string, row: number[]): Promise<string> {
  const base = await serviceUrl(name);
  await waitFor(`${name} answers through its Service`, async () => (await predict(base, model, [row])).ok, {
    timeoutMs: 60_000,
  });
  return base;
}

/** Applies the quick start again and waits until it serves 1.0.0 alone: the state the later tests start from. */
async function backToQuickStart(): Promise<void> {
  await apply(example("quickstart-cpu.yaml"));
  await waitFor("back on 1.0.0 with no candidate", async () => {
    const m = await md("iris");
    return (
      m.status?.phase === "Healthy" && m.status.modelVersion === "1.0.0" && m.status.revisions?.length === 1
    );
  });
}

/** Steady traffic until stopped: every response's status and event id. */
function steadyTraffic(base: string) {
  const results: Prediction[] = [];
  let stopped = false;
  const done = (async () => {
    for (let i = 0; !stopped && i < 20_000; i++) {
      results.push(await predict(base, "iris", [flower(i)]));
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    results,
    async stop() {
      stopped = true;
      await done;
      return results;
    },
  };
}

async function pods(selector: string): Promise<Obj[]> {
  return (await kubectlJson<{ items: Obj[] }>(["get", "pods", "-n", ns.name, "-l", selector])).items;
}

/**
 * helm upgrade --install of the chart as a platform team would; its controller watches only this
 * test's namespace, so the controllers other test files start never meet it.
 */
const installChart = (extra: string[] = []) => installChartIn(release, systemNs, ns.name, extra);

before(async () => {
  // The image, built from the Dockerfile and loaded into the node's containerd.
  await run("bash", [join(repoRoot, "scripts/image.sh")], { timeoutMs: 1_200_000 });
  await run("bash", [join(repoRoot, "e2e/cluster/load-images.sh")], { timeoutMs: 300_000 });
  ns = await createNamespace("real", env, { pods: "real" });
  await installChart();
  collector = await releaseCollector(release, systemNs);
});

after(async () => {
  await helm(["uninstall", release, "-n", systemNs, "--wait"], { allowFailure: true, timeoutMs: 300_000 });
  await ns?.delete();
});

describe("modelship on real pods", { skip: !env.bundled && "needs the bundled cluster's real node" }, () => {
  test("Given the chart installed, Then the controller and the collector run as pods under its ServiceAccounts", async () => {
    const list = await kubectlJson<{ items: Obj[] }>([
      "get",
      "pods",
      "-n",
      systemNs,
      "-l",
      `app.kubernetes.io/instance=${release}`,
    ]);
    const byComponent = new Map<string, Obj[]>();
    for (const p of list.items) {
      const c = p.metadata.labels["app.kubernetes.io/component"];
      byComponent.set(c, [...(byComponent.get(c) ?? []), p]);
    }
    assert.equal(byComponent.get("controller")?.length, 2);
    assert.equal(byComponent.get("collector")?.length, 1);
    for (const p of list.items) {
      assert.equal(p.spec.nodeName, "modelship-node", `${p.metadata.name} runs on the real node`);
      assert.ok(
        (p.status.containerStatuses ?? []).every((c: Obj) => c.ready),
        `${p.metadata.name} is ready`,
      );
    }
    assert.equal(byComponent.get("controller")![0]!.spec.serviceAccountName, `${release}-controller`);
  });

  test(
    "Given the quick start, Then it is Ready and 100 predictions through its Service equal onnxruntime's, each logged exactly once",
    slow,
    async () => {
      await apply(example("quickstart-cpu.yaml"));
      await waitCondition("iris", "Ready", "True");
      const base = await answeringService("iris", "iris", flower(0));

      const session = await ort.InferenceSession.create(readFileSync(modelFile));
      const since = new Date(Date.now() - 60_000);
      const ids: string[] = [];
      for (let i = 0; i < 100; i++) {
        const rows = [flower(i), flower(i + 1)];
        const got = await predict(base, "iris", rows);
        assert.equal(got.status, 200, got.error ?? JSON.stringify(got.body));
        const want = await session.run({
          input: new ort.Tensor("float32", Float32Array.from(rows.flat()), [rows.length, 4]),
        });
        const out = (name: string) => got.body!.outputs.find((o: Obj) => o.name === name);
        // Bit for bit: the JSON number read back as float32 is onnxruntime's float32.
        assert.deepEqual(
          out("probabilities").data.map((x: number) => Math.fround(x)),
          Array.from(want.probabilities!.data as Float32Array),
        );
        assert.deepEqual(out("label").data, Array.from(want.label!.data as BigInt64Array, Number));
        ids.push(got.eventId!);
      }
      await session.release();
      assert.equal(new Set(ids).size, 100, "each response names its own event");
      await expectEventsOnce("iris", since, ids);
    },
  );

  test(
    "Given a wrong sha256, Then the pod stays in Init with the mismatch and the ModelDeployment is Degraded naming both digests",
    slow,
    async () => {
      const wrong = "0".repeat(64);
      const actual = example("quickstart-cpu.yaml").spec.model.sha256 as string;
      await apply(
        example("quickstart-cpu.yaml", (m) => {
          m.metadata.name = "badsum";
          m.spec.replicas = 1;
          m.spec.model.sha256 = wrong;
          delete m.spec.monitoring;
        }),
      );
      const degraded = await waitCondition("badsum", "Degraded", "True");
      const message = condition(degraded, "Degraded")!.message as string;
      assert.match(message, new RegExp(`expected ${wrong}, got ${actual}`), message);
      const [pod] = await pods("modelship.io/deployment=badsum");
      assert.ok(pod, "a pod exists");
      assert.equal(pod.status.phase, "Pending", "never past Init");
      const fetch = pod.status.initContainerStatuses.find((c: Obj) => c.name === "fetch");
      assert.match(fetch.lastState.terminated.message, /sha256 mismatch/);
      assert.equal(condition(degraded, "Ready")?.status, "False");
      await kubectl(["delete", "md", "badsum", "-n", ns.name, "--wait=false"]);
    },
  );

  test(
    "Given examples/custom-container.yaml with a server built here, Then it serves through the logger sidecar on the same port 8080",
    slow,
    async () => {
      await apply(
        example("custom-container.yaml", (m) => {
          m.spec.model.uri = "pvc://model-store/iris/1.0.0/train.csv";
          m.spec.runtime.container.image = "docker.io/modelship/custom-echo-server:test";
          delete m.spec.runtime.container.args;
          delete m.spec.autoscaling;
          m.spec.replicas = 1;
        }),
      );
      await waitCondition("pricing", "Ready", "True");
      const since = new Date(Date.now() - 60_000);
      const got = await predict(await answeringService("pricing", "pricing", [0, 0, 0, 0]), "pricing", [
        [1, 2, 3, 4],
      ]);
      assert.equal(got.status, 200);
      assert.deepEqual(got.body!.outputs[0].data, [10]);
      assert.ok(got.eventId, "the sidecar answered and named the event");
      await expectEventsOnce("pricing", since, [got.eventId!]);
      await kubectl(["delete", "md", "pricing", "-n", ns.name, "--wait=false"]);
    },
  );

  test(
    "Given steady traffic, When a canary of a broken model starts, Then it rolls back by itself and no request to stable fails",
    slow,
    async () => {
      const stable = steadyTraffic(await serviceUrl("iris-stable"));
      const main = steadyTraffic(await serviceUrl("iris"));
      await apply(
        example("quickstart-cpu.yaml", (m) => {
          m.spec.model.version = "2.0.0";
          m.spec.model.uri = "pvc://model-store/iris/broken/model.onnx";
          delete m.spec.model.sha256;
          m.spec.rollout = { strategy: "canary", canary: { steps: [{ setWeight: 50 }, { pause: {} }] } };
        }),
      );
      const rolledBack = await waitCondition("iris", "RolledBack", "True", 300_000);
      const [toStable, toMain] = [await stable.stop(), await main.stop()];
      assert.ok(toStable.length > 20, `steady traffic ran (${toStable.length} requests)`);
      assert.deepEqual(
        toStable.filter((r) => !r.ok).map((r) => r.status),
        [],
        "no failed request to stable",
      );
      assert.deepEqual(
        toMain.filter((r) => !r.ok).map((r) => r.status),
        [],
        "the canary never became ready, so the main Service never sent it traffic",
      );
      assert.equal(rolledBack.status.modelVersion, "1.0.0");
      await backToQuickStart();
    },
  );

  test(
    "Given a canary at setMirror 50 (plain Service provider), Then the candidate gets about half the requests as copies recorded as shadow, and clients only get stable's answers",
    slow,
    async () => {
      await apply(
        example("quickstart-cpu.yaml", (m) => {
          m.spec.model.version = "2.0.0";
          m.spec.rollout = {
            strategy: "canary",
            canary: { steps: [{ setMirror: { percent: 50 } }, { pause: {} }] },
          };
        }),
      );
      await waitCondition("iris", "Paused", "True", 300_000);
      const base = await answeringService("iris", "iris", flower(0));
      // each stable pod starts copying once the kubelet has refreshed its ConfigMap file
      const stableRev = (await md("iris")).status.stableRevision as string;
      await waitFor(
        "every stable pod copying",
        async () => {
          for (let i = 0; i < 20; i++) await predict(base, "iris", [flower(i)]);
          const c = await mirrorCopies(
            ns.name,
            `modelship.io/deployment=iris,modelship.io/revision=${stableRev}`,
          );
          return c.perPod.length > 0 && c.perPod.every((n) => n > 0);
        },
        { timeoutMs: 180_000, intervalMs: 3_000 },
      );
      await new Promise((r) => setTimeout(r, 2_000)); // copies of the warm-up requests land first
      const since = new Date();
      const n = 400;
      const answers: Prediction[] = [];
      // a connection per request: kube-proxy chooses among the endpoint's pods for each one
      const fresh = new Agent({ pipelining: 0 });
      for (let i = 0; i < n; i++)
        answers.push(await predict(base, "iris", [flower(i)], { dispatcher: fresh }));
      await fresh.close();
      assert.deepEqual(
        answers.filter((a) => !a.ok).map((a) => a.status),
        [],
        "every client request answered",
      );
      assert.deepEqual(
        [...new Set(answers.map((a) => a.body!.model_version))],
        ["1.0.0"],
        "clients only ever get the stable revision's answers",
      );
      const ids = answers.map((a) => a.eventId!);
      await expectEventsOnce("iris", since, ids);
      // every copy is in the store a moment after the last request; the share is a binomial draw
      await new Promise((r) => setTimeout(r, 5_000));
      const events = await collectorEventList("iris", since);
      const shadow = events.filter((e) => e.data.variant === "shadow");
      const [lo, hi] = binomialInterval(n, 0.5);
      assert.ok(
        shadow.length >= lo && shadow.length <= hi,
        `${shadow.length} shadow copies of ${n} requests: outside the 99.9% interval of 50%`,
      );
      assert.ok(shadow.every((e) => e.data.model.version === "2.0.0" && e.data.status === 200));
      assert.equal(
        events.filter((e) => e.data.variant === "canary").length,
        0,
        "no live request reached the canary",
      );
      assert.ok(
        events.filter((e) => ids.includes(e.id)).every((e) => e.data.variant === "stable"),
        "the originals are recorded as stable",
      );

      await backToQuickStart();
    },
  );

  test(
    "Given shifted traffic, When the drift CronJob's pod runs, Then it writes status.drift and DriftDetected",
    slow,
    async () => {
      const base = await serviceUrl("iris");
      for (let i = 0; i < 300; i++) assert.equal((await predict(base, "iris", [flower(i, 3)])).status, 200);
      const cronjob = (
        await kubectlJson<{ items: Obj[] }>([
          "get",
          "cronjob",
          "-n",
          ns.name,
          "-l",
          "modelship.io/deployment=iris",
        ])
      ).items[0]!.metadata.name;
      // The events reach the collector within a flush interval; the job reads the last hour of them.
      await new Promise((r) => setTimeout(r, 5_000));
      await kubectl(["create", "job", "drift-now", "-n", ns.name, `--from=cronjob/${cronjob}`]);
      await kubectl(["wait", "job/drift-now", "-n", ns.name, "--for=condition=Complete", "--timeout=300s"], {
        timeoutMs: 320_000,
      });
      const m = await waitCondition("iris", "DriftDetected", "True");
      assert.equal(m.status.drift.verdict, "drift");
      assert.ok(m.status.drift.features.some((f: Obj) => f.name === "sepal_length" && f.drifted));
    },
  );

  test(
    "Given a rollout paused mid-way, When the leading controller pod is deleted, Then the other replica leads and the rollout converges",
    slow,
    async () => {
      await apply(
        example("quickstart-cpu.yaml", (m) => {
          m.spec.model.version = "1.0.1";
          m.spec.rollout = { strategy: "canary", canary: { steps: [{ setWeight: 50 }, { pause: {} }] } };
        }),
      );
      await waitCondition("iris", "Paused", "True", 300_000);
      const leases = await kubectlJson<{ items: Obj[] }>(["get", "lease", "-n", systemNs]);
      const lease = leases.items.find((l) => l.spec.holderIdentity);
      assert.ok(lease, "a controller holds the leader lease");
      const leader = lease.spec.holderIdentity as string;
      const leaderPod = (
        await kubectlJson<{ items: Obj[] }>([
          "get",
          "pods",
          "-n",
          systemNs,
          "-l",
          "app.kubernetes.io/component=controller",
        ])
      ).items.find((p) => leader.includes(p.metadata.name));
      assert.ok(leaderPod, `the leader ${leader} is one of the controller pods`);
      await kubectl(["delete", "pod", leaderPod.metadata.name, "-n", systemNs, "--wait=false"]);
      await waitFor(
        "another replica leads",
        async () => {
          const l = await kubectlJson<Obj>(["get", "lease", lease.metadata.name, "-n", systemNs]);
          return l.spec.holderIdentity && !l.spec.holderIdentity.includes(leaderPod.metadata.name);
        },
        { timeoutMs: 120_000 },
      );
      await run(
        process.execPath,
        [join(repoRoot, "bin/modelship.js"), "promote", "iris", "-n", ns.name, "--full"],
        { env: { ...process.env, KUBECONFIG: env.kubeconfig } },
      );
      await waitFor(
        "the rollout converged on 1.0.1",
        async () => {
          const m = await md("iris");
          return (
            m.status?.phase === "Healthy" &&
            m.status.modelVersion === "1.0.1" &&
            m.status.revisions?.length === 1
          );
        },
        { timeoutMs: 300_000 },
      );
      await waitCondition("iris", "Ready", "True");
    },
  );

  test(
    "Given steady traffic, When serve (which writes the events) is killed with SIGKILL, Then it restarts and every answered request's event arrives once",
    slow,
    async () => {
      const since = new Date(Date.now() - 60_000);
      const traffic = steadyTraffic(await serviceUrl("iris"));
      await new Promise((r) => setTimeout(r, 3_000));
      const [victim] = (await pods("modelship.io/deployment=iris")).filter(
        (p) => p.status.phase === "Running",
      );
      assert.ok(victim);
      const serve = victim.status.containerStatuses.find((c: Obj) => c.name === "serve");
      const restarts = serve.restartCount as number;
      const id = String(serve.containerID).replace(/^containerd:\/\//, "");
      const address = "/run/modelship-e2e/containerd/containerd.sock";
      await run("ctr", ["--address", address, "-n", "k8s.io", "tasks", "kill", "-s", "SIGKILL", id]);
      await waitFor(
        "serve restarted and is ready",
        async () => {
          const p = await kubectlJson<Obj>(["get", "pod", victim.metadata.name, "-n", ns.name]);
          const c = p.status.containerStatuses.find((s: Obj) => s.name === "serve");
          return c.restartCount > restarts && c.ready;
        },
        { timeoutMs: 120_000 },
      );
      await new Promise((r) => setTimeout(r, 3_000));
      const results = await traffic.stop();
      const answered = results.filter((r) => r.ok).map((r) => r.eventId!);
      assert.ok(answered.length > 20, `traffic ran (${answered.length} answered)`);
      await expectEventsOnce("iris", since, answered);
    },
  );

  test(
    "Given the release, When it is upgraded and then uninstalled, Then models keep serving across the upgrade and nothing of it is left",
    slow,
    async () => {
      await installChart(["--set", "controller.logLevel=debug"]);
      const ctl = await kubectlJson<Obj>(["get", "deployment", `${release}-controller`, "-n", systemNs]);
      assert.ok(ctl.spec.template.spec.containers[0].args.includes("--log-level=debug"));
      assert.equal((await predict(await serviceUrl("iris"), "iris", [flower(0)])).status, 200);

      await helm(["uninstall", release, "-n", systemNs, "--wait"], { timeoutMs: 300_000 });
      const selector = `app.kubernetes.io/instance=${release}`;
      const left = async (args: string[]) =>
        (await kubectl(["get", ...args, "-l", selector, "-o", "name"])).stdout.trim();
      // helm deletes the objects; the garbage collector and the pods' grace period finish the job
      let namespaced = "";
      await waitFor("nothing of the release left", async () => {
        namespaced = await left([
          "all,configmap,secret,serviceaccount,role,rolebinding,pvc,poddisruptionbudget",
          "-n",
          systemNs,
        ]);
        return namespaced === "";
      }).catch((err: Error) => assert.fail(`${err.message}; left: ${namespaced}`));
      assert.equal(
        await left(["clusterrole,clusterrolebinding"]),
        "",
        "no cluster-wide object of the release",
      );
      const pvcs = await kubectl(["get", "pvc", "-n", systemNs, "-o", "name"]);
      assert.equal(pvcs.stdout.trim(), "", "no claim left");
    },
  );
});
