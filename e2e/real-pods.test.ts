// modelship as its users run it, on the real node: the image built here, the chart installed with helm
// (controller and collector as pods with the chart's RBAC), models fetched from the model store by the
// real init container, served by real pods and reached through their Services. Each test is a step of
// one story in one namespace, in order. Run with `npm run test:e2e -- real-pods`.
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import yaml from "js-yaml";
import * as ort from "onnxruntime-node";
import { Agent } from "undici";
import {
  clusterEnv,
  createNamespace,
  edgeEnv,
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

import { startPostgres, type Postgres } from "../src/batch/testing/postgres.js";
import { S3Target } from "../src/events/archive-target.js";
import { buildInferenceEvent } from "../src/events/build.js";
import { startMoto, type Moto } from "../src/testing/moto.js";
import { irisReference } from "../src/testing/onnx/iris.js";

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

/** The event iris's logger writes for one flower, as of `time`: what a collector stores. */
function shiftedEvent(id: string, time: Date, row: number[]): Obj {
  return buildInferenceEvent(
    {
      id,
      time,
      path: "/v2/models/iris/infer",
      protocol: "v2",
      requestHeaders: {},
      requestBody: Buffer.from(
        JSON.stringify({ inputs: [{ name: "input", datatype: "FP32", shape: [1, 4], data: row }] }),
      ),
      status: 200,
      responseBody: Buffer.from(
        JSON.stringify({ outputs: [{ name: "label", datatype: "INT64", shape: [1], data: [1] }] }),
      ),
      latencyMs: 1,
      fallback: false,
    },
    {
      model: "iris",
      revision: "r1",
      variant: "stable",
      features: ["sepal_length", "sepal_width", "petal_length", "petal_width"].map((name) => ({
        name,
        type: "numeric" as const,
      })),
      redact: [],
      headerAllowlist: [],
      maxPayloadBytes: 1 << 20,
      sampleRate: 1,
    },
  ) as Obj;
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
      // a connection per request: kube-proxy chooses among the endpoint's pods for each one
      const fresh = new Agent({ pipelining: 0 });
      await waitFor(
        "every stable pod copying",
        async () => {
          for (let i = 0; i < 20; i++) await predict(base, "iris", [flower(i)], { dispatcher: fresh });
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
      // after the rollout before it, kube-proxy may still be moving the Service to the new pods
      const base = await answeringService("iris", "iris", flower(0, 3));
      // New connections; and a connection kube-proxy refuses (ECONNREFUSED while the Service's endpoints
      // still move after the canary before) is tried again: this step is about drift, not availability,
      // which the rollout and kill steps assert. An HTTP error still fails it.
      const fresh = new Agent();
      for (let i = 0; i < 299; i++) {
        let p = await predict(base, "iris", [flower(i, 3)], { dispatcher: fresh });
        for (let retry = 0; p.status === 0 && retry < 20; retry++) {
          await new Promise((r) => setTimeout(r, 500));
          p = await predict(base, "iris", [flower(i, 3)], { dispatcher: fresh });
        }
        assert.equal(p.status, 200, `request ${i}: ${p.error ?? JSON.stringify(p.body)}`);
      }
      await fresh.close();
      const cronjob = "iris-drift"; // <md>-drift, as the controller names it
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

  describe("batch prediction", () => {
    const rows = 300;
    const features: number[][] = []; // flower id - 1 -> its measurements (flower() draws new ones each call)
    const expected = new Map<number, number>(); // flower id -> its label, as the model computes it
    let db: Postgres;

    const job = (name: string) => kubectlJson<Obj>(["get", "job", name, "-n", ns.name]);
    const startRun = async (cronJob: string, run: string) => {
      await waitFor(`cronjob/${cronJob}`, () => kubectlJson<Obj>(["get", "cronjob", cronJob, "-n", ns.name]));
      await kubectl(["create", "job", `--from=cronjob/${cronJob}`, run, "-n", ns.name]);
    };
    const finished = (run: string, shards: number) =>
      waitFor(
        `job/${run}: ${shards} shards succeeded`,
        async () => {
          const j = await job(run);
          return j.status?.succeeded === shards ? j : undefined;
        },
        { timeoutMs: 420_000 },
      );
    const lastRun = (name: string, runId: string, outcome: string) =>
      waitFor(`md/${name} status.batch.lastRun ${runId} ${outcome}`, async () => {
        const r = (await md(name)).status?.batch?.lastRun;
        return r?.runId === runId && r.outcome === outcome ? r : undefined;
      });
    const sqlBatch = (query: string) =>
      example("batch-sql.yaml", (m) => {
        m.spec.resources = { cpu: "100m", memory: "512Mi" }; // the real node has 2 cores
        m.spec.batch.input.sql.query = query;
      });
    const FLOWERS = "SELECT id, sepal_length, sepal_width, petal_length, petal_width FROM flowers";

    before(async () => {
      const edge = edgeEnv();
      assert.ok(edge, "pods reach PostgreSQL on the machine's address");
      db = await startPostgres({ listen: edge.hostIp });
      await db.query("CREATE SCHEMA analytics");
      await db.query(
        "CREATE TABLE flowers (id bigint, sepal_length real, sepal_width real, petal_length real, petal_width real)",
      );
      const values = Array.from({ length: rows }, (_, i) => {
        const f = flower(i);
        features.push(f);
        expected.set(i + 1, irisReference(f).label);
        return { id: i + 1, a: f[0], b: f[1], c: f[2], d: f[3] };
      });
      await db.query(
        "INSERT INTO flowers SELECT * FROM json_to_recordset($1::json) AS r(id bigint, a real, b real, c real, d real)",
        [JSON.stringify(values)],
      );
      await kubectl([
        "create",
        "secret",
        "generic",
        "iris-db",
        "-n",
        ns.name,
        `--from-literal=host=${db.host}`,
        `--from-literal=port=${db.port}`,
        `--from-literal=dbname=${db.database}`,
        `--from-literal=username=${db.user}`,
        `--from-literal=password=${db.password}`,
      ]);
    });
    after(async () => {
      await kubectl(["delete", "md", "iris-nightly", "iris-files", "-n", ns.name, "--ignore-not-found"]);
      await db?.stop();
    });

    test(
      "Given examples/batch-sql.yaml (4 shards, 2 at a time), When a run starts, Then every flower is predicted once into the table and the run is in status",
      slow,
      async () => {
        await apply(sqlBatch(FLOWERS));
        await startRun("iris-nightly-batch", "run-1");
        const j = await finished("run-1", 4);
        assert.equal(j.status.completedIndexes, "0-3");
        const r = await lastRun("iris-nightly", "run-1", "Succeeded");
        assert.deepEqual(
          [r.shards, r.rows, r.predicted, r.rejected, r.output, r.rejects],
          [4, rows, rows, 0, "analytics.iris_predictions", "analytics.iris_predictions_rejects"],
        );
        const got = await db.query<{ id: string; label: string }>(
          "SELECT id, label FROM analytics.iris_predictions WHERE run_id = 'run-1'",
        );
        assert.equal(got.length, rows);
        for (const p of got) assert.equal(Number(p.label), expected.get(Number(p.id)), `flower ${p.id}`);
        const shardPods = await pods("batch.kubernetes.io/job-name=run-1");
        assert.deepEqual(
          shardPods.map((p) => p.metadata.annotations["batch.kubernetes.io/job-completion-index"]).sort(),
          ["0", "1", "2", "3"],
        );
        for (const p of shardPods) assert.equal(p.spec.nodeName, "modelship-node");
        const events = await kubectlJson<{ items: Obj[] }>([
          "get",
          "events",
          "-n",
          ns.name,
          "--field-selector",
          "reason=BatchSucceeded,involvedObject.name=iris-nightly",
        ]);
        assert.ok(events.items.length >= 1, "an Event BatchSucceeded on the ModelDeployment");
      },
    );

    test(
      "Given run-1 done, When the same run is made again, Then its rows are replaced, never doubled",
      slow,
      async () => {
        await kubectl(["delete", "job", "run-1", "-n", ns.name, "--wait=true"]);
        await startRun("iris-nightly-batch", "run-1");
        await finished("run-1", 4);
        await lastRun("iris-nightly", "run-1", "Succeeded");
        assert.deepEqual(
          await db.query("SELECT count(*)::int AS n FROM analytics.iris_predictions WHERE run_id = 'run-1'"),
          [{ n: rows }],
        );
        assert.deepEqual(await db.query("SELECT count(*)::int AS n FROM analytics.iris_predictions_runs"), [
          { n: 1 },
        ]);
      },
    );

    test(
      "Given a shard whose database session dies, Then that shard alone is retried and the run succeeds",
      slow,
      async () => {
        // every shard's session sleeps on flower 7 (the WHERE is evaluated before the shard's split); the
        // test kills one of those sessions, once
        const slowId = 7;
        await apply(
          sqlBatch(`${FLOWERS} WHERE CASE WHEN id = ${slowId} THEN pg_sleep(20) IS NOT NULL ELSE true END`),
        );
        await startRun("iris-nightly-batch", "run-2");
        await waitFor(
          "a shard sleeping on flower 7",
          async () =>
            (
              await db.query(
                "SELECT pg_terminate_backend(pid) FROM (SELECT pid FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND query LIKE 'FETCH%' LIMIT 1) s",
              )
            ).length > 0,
        );
        await finished("run-2", 4);
        const r = await lastRun("iris-nightly", "run-2", "Succeeded");
        assert.equal(r.predicted, rows);
        const perIndex = new Map<string, Obj[]>();
        for (const p of await pods("batch.kubernetes.io/job-name=run-2")) {
          const i = p.metadata.annotations["batch.kubernetes.io/job-completion-index"];
          perIndex.set(i, [...(perIndex.get(i) ?? []), p]);
        }
        const retried = [...perIndex].filter(([, ps]) => ps.length > 1).map(([i]) => i);
        assert.equal(retried.length, 1, `one shard retried, got ${JSON.stringify(retried)}`);
        for (const [i, ps] of perIndex)
          if (i !== retried[0]) assert.equal(ps.length, 1, `pods of shard ${i}`);
        const index = retried[0]!;
        const retry = perIndex.get(index)!.find((p) => p.status.phase === "Succeeded")!;
        assert.equal(retry.metadata.annotations["batch.kubernetes.io/job-index-failure-count"], "1");
      },
    );

    test(
      "Given bad SQL, Then the run fails at once with the field named, and no table changes",
      slow,
      async () => {
        await apply(sqlBatch("SELEC id FROM flowers"));
        await startRun("iris-nightly-batch", "run-bad");
        const j = await waitFor("job/run-bad failed", async () => {
          const x = await job("run-bad");
          return x.status?.conditions?.some((c: Obj) => c.type === "Failed" && c.status === "True")
            ? x
            : undefined;
        });
        assert.equal(j.status.conditions.find((c: Obj) => c.type === "Failed").reason, "PodFailurePolicy");
        const r = await lastRun("iris-nightly", "run-bad", "Failed");
        assert.match(r.message, /spec\.batch\.input\.sql\.query.*syntax error at or near "SELEC"/);
        const exits = (await pods("batch.kubernetes.io/job-name=run-bad")).map(
          (p) =>
            p.status.containerStatuses?.find((c: Obj) => c.name === "batch")?.state?.terminated?.exitCode,
        );
        assert.ok(exits.includes(3), `a shard exited 3 (failed for good), got ${exits}`);
        assert.deepEqual(
          await db.query(
            "SELECT count(*)::int AS n FROM analytics.iris_predictions WHERE run_id = 'run-bad'",
          ),
          [{ n: 0 }],
        );
        assert.deepEqual(
          await db.query("SELECT tablename FROM pg_tables WHERE tablename LIKE 'modelship_batch_%'"),
          [],
        );
      },
    );

    test(
      "Given a JSONL file on a shared claim and 3 shards, Then the merged output is in input order beside its rejects and summary",
      slow,
      async () => {
        const dataDir = join(repoRoot, ".e2e", "batch-data", ns.name);
        mkdirSync(join(dataDir, "out"), { recursive: true });
        chmodSync(dataDir, 0o777); // the pods run as uid 65532
        chmodSync(join(dataDir, "out"), 0o777);
        const lines = Array.from({ length: rows }, (_, i) =>
          JSON.stringify({ id: `f${i + 1}`, input: features[i] }),
        );
        lines.splice(100, 0, '{"id": "broken", "input": [1, 2]}');
        writeFileSync(join(dataDir, "in.jsonl"), lines.join("\n") + "\n");
        const pv = `batch-data-${ns.name}`;
        await kubectl(["apply", "-f", "-"], {
          input: JSON.stringify({
            apiVersion: "v1",
            kind: "List",
            items: [
              {
                apiVersion: "v1",
                kind: "PersistentVolume",
                metadata: { name: pv },
                spec: {
                  capacity: { storage: "1Gi" },
                  accessModes: ["ReadWriteMany"],
                  persistentVolumeReclaimPolicy: "Retain",
                  storageClassName: "",
                  claimRef: { namespace: ns.name, name: "batch-data" },
                  hostPath: { path: dataDir, type: "Directory" },
                },
              },
              {
                apiVersion: "v1",
                kind: "PersistentVolumeClaim",
                metadata: { name: "batch-data", namespace: ns.name },
                spec: {
                  accessModes: ["ReadWriteMany"],
                  storageClassName: "",
                  volumeName: pv,
                  resources: { requests: { storage: "1Gi" } },
                },
              },
            ],
          }),
        });
        await apply(
          example("quickstart-cpu.yaml", (m) => {
            m.metadata.name = "iris-files";
            m.spec.replicas = 1;
            m.spec.resources = { cpu: "100m", memory: "512Mi" };
            delete m.spec.monitoring;
            m.spec.batch = {
              schedule: "0 0 1 1 *",
              inputUri: "pvc://batch-data/in.jsonl",
              outputUri: "pvc://batch-data/out/scores.jsonl",
              shards: 3,
              batchSize: 16,
            };
          }),
        );
        await startRun("iris-files-batch", "files-1");
        await finished("files-1", 3);
        const r = await lastRun("iris-files", "files-1", "Succeeded");
        assert.deepEqual(
          [r.rows, r.predicted, r.rejected, r.output, r.rejects],
          [
            rows + 1,
            rows,
            1,
            "pvc://batch-data/out/scores.jsonl",
            "pvc://batch-data/out/scores.rejects.jsonl",
          ],
        );
        const out = readFileSync(join(dataDir, "out", "scores.jsonl"), "utf8")
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l));
        assert.deepEqual(
          out.map((o) => o.id),
          Array.from({ length: rows }, (_, i) => `f${i + 1}`),
          "input order",
        );
        out.forEach((o, i) => assert.equal(o.label, expected.get(i + 1)));
        const rejects = readFileSync(join(dataDir, "out", "scores.rejects.jsonl"), "utf8")
          .trim()
          .split("\n");
        assert.equal(JSON.parse(rejects[0]!).line, 101);
        assert.equal(
          JSON.parse(readFileSync(join(dataDir, "out", "scores.summary.json"), "utf8")).runId,
          "files-1",
        );
        assert.deepEqual(
          readdirSync(join(dataDir, "out")).filter((f) => f.startsWith(".")),
          [],
          "no parts left",
        );
        await kubectl(["delete", "md", "iris-files", "-n", ns.name, "--wait=false"]);
        await kubectl(["delete", "pvc", "batch-data", "-n", ns.name, "--wait=false"]);
        await kubectl(["delete", "pv", pv, "--wait=false"]);
      },
    );
  });

  describe("two collectors sharing one Parquet archive in S3 (moto on the machine's address)", () => {
    let moto: Moto | undefined;
    const bucket = "events";
    const archiveUrl = `s3://${bucket}/archive`;

    before(async () => {
      const edge = edgeEnv();
      assert.ok(edge, "pods reach moto on the machine's address");
      const m = await startMoto(edge.hostIp);
      assert.ok(typeof m !== "string", m as string);
      moto = m;
      await m.createBucket(bucket);
      await kubectl(["delete", "secret", "events-s3", "-n", systemNs, "--ignore-not-found"]);
      await kubectl([
        "create",
        "secret",
        "generic",
        "events-s3",
        "-n",
        systemNs,
        ...Object.entries({ ...m.env, AWS_ENDPOINT_URL_S3: m.endpoint }).map(
          ([k, v]) => `--from-literal=${k}=${v}`,
        ),
      ]);
    });
    after(async () => {
      await kubectl(["delete", "secret", "events-s3", "-n", systemNs, "--ignore-not-found"]);
      moto?.stop();
    });

    test(
      "Given collector.replicas 2 and collector.archive, When each collector holds half of a shifted hour, Then the drift CronJob's pod reads both halves from the archive",
      slow,
      async () => {
        await installChart([
          "--set",
          "collector.replicas=2",
          "--set",
          `collector.archive.url=${archiveUrl}`,
          "--set",
          "collector.archive.credentialsSecret=events-s3",
          // segments close 5 s after they open, so the archive has them within seconds
          "--set-json",
          'collector.extraArgs=["--segment-max-age-ms=5000"]',
        ]);
        // The controller points the drift job at the archive and copies the credentials beside the model.
        const cronjob = await waitFor("the drift CronJob reads the archive", async () => {
          const c = await kubectlJson<Obj>(["get", "cronjob", "iris-drift", "-n", ns.name]);
          return c.spec.jobTemplate.spec.template.spec.containers[0].args.includes(archiveUrl)
            ? c
            : undefined;
        });
        const drift = cronjob.spec.jobTemplate.spec.template.spec.containers[0];
        assert.deepEqual(drift.envFrom, [{ secretRef: { name: "iris-events-archive" } }]);
        const copied = await kubectlJson<Obj>(["get", "secret", "iris-events-archive", "-n", ns.name]);
        assert.deepEqual(Object.keys(copied.data).sort(), [
          "AWS_ACCESS_KEY_ID",
          "AWS_ENDPOINT_URL_S3",
          "AWS_REGION",
          "AWS_SECRET_ACCESS_KEY",
        ]);

        // Half of a shifted hour to each collector pod, straight to its pod IP.
        const collectorPods = (
          await kubectlJson<{ items: Obj[] }>([
            "get",
            "pods",
            "-n",
            systemNs,
            "-l",
            `app.kubernetes.io/instance=${release},app.kubernetes.io/component=collector`,
          ])
        ).items.filter((p) => !p.metadata.deletionTimestamp);
        assert.equal(collectorPods.length, 2);
        const token = (await releaseCollector(release, systemNs)).token;
        const now = Date.now();
        const events = Array.from({ length: 600 }, (_, i) =>
          shiftedEvent(`archive-${i}`, new Date(now - 20 * 60_000 + i * 1000), flower(i, 3)),
        );
        for (const [k, p] of collectorPods.entries()) {
          const half = events.filter((_, i) => i % 2 === k);
          const res = await fetch(`http://${p.status.podIP}:9090/v1/events`, {
            method: "POST",
            headers: { authorization: `Bearer ${token}`, "content-type": "application/x-ndjson" },
            body: half.map((e) => JSON.stringify(e)).join("\n") + "\n",
          });
          assert.equal(res.status, 200, await res.text());
        }
        // Both collectors' closed segments reach the shared archive, as Parquet.
        const archive = S3Target.fromUrl(archiveUrl, moto!.endpoint, moto!.env);
        let keys: string[] = [];
        await waitFor(
          "both collectors' segments in the archive",
          async () => {
            keys = await archive.list();
            const writers = new Set(
              keys
                .filter((k) => k.startsWith("model=iris/") && k.endsWith(".parquet"))
                .map((k) => /part-\d+-(\d+-[0-9a-f]+)-\d+\.parquet$/.exec(k)?.[1]),
            );
            return writers.size >= 2;
          },
          { timeoutMs: 120_000, intervalMs: 2_000 },
        ).catch(async (err: Error) => {
          const logs = await Promise.all(
            collectorPods.map(
              async (p) =>
                (
                  await kubectl(["logs", p.metadata.name, "-n", systemNs, "--tail=20"], {
                    allowFailure: true,
                  })
                ).stdout,
            ),
          );
          throw new Error(
            `${err.message}; the bucket holds ${JSON.stringify(keys)}; collector logs:\n${logs.join("\n")}`,
          );
        });

        const before = (await md("iris")).status?.drift?.lastRun;
        await kubectl(["delete", "job", "drift-archive", "-n", ns.name, "--ignore-not-found"]);
        await kubectl([
          "create",
          "job",
          "drift-archive",
          "-n",
          ns.name,
          `--from=cronjob/${cronjob.metadata.name}`,
        ]);
        await kubectl(
          ["wait", "job/drift-archive", "-n", ns.name, "--for=condition=Complete", "--timeout=300s"],
          { timeoutMs: 320_000 },
        );
        const logs = (await kubectl(["logs", "job/drift-archive", "-n", ns.name])).stdout
          .split("\n")
          .flatMap((l) => {
            try {
              return [JSON.parse(l) as Obj];
            } catch {
              return [];
            }
          });
        const downloaded = logs.find((l) => l.msg === "Downloaded the window's archive files");
        assert.equal(downloaded?.events, archiveUrl, "the job read the archive");
        const read = logs.find((l) => l.msg === "Read window events");
        // Every event both collectors were sent: either collector alone holds only half of them.
        assert.ok(read && read.events >= events.length, `read ${read?.events} events`);
        const m = await waitFor("a new status.drift", async () => {
          const x = await md("iris");
          return x.status?.drift?.lastRun !== before ? x : undefined;
        });
        assert.equal(m.status.drift.verdict, "drift");
        assert.ok(m.status.drift.features.some((f: Obj) => f.name === "sepal_length" && f.drifted));
        await kubectl(["delete", "job", "drift-archive", "-n", ns.name, "--wait=false"]);
      },
    );
  });

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
