// A multi-model endpoint on real pods: the image built here, the chart installed with helm, and
// examples/multi-model.yaml served by one ModelDeployment whose pods fetch every model from the model store
// (an init container each) and answer each at its own /v2/models/{name}/infer. Events reach the collector per
// model, and changing only an additional model's version rolls out a new revision. Each test is a step of
// one story in one namespace, in order. Run with `npm run test:e2e -- multimodel`.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import yaml from "js-yaml";
import { request } from "undici";
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
import { collectorEventList, installChart, releaseCollector, type Collector } from "./lib/chart.js";
import { predict, serviceUrl } from "./lib/inference.js";
import { gatherModel } from "../src/testing/onnx/builders.js";
import { irisReference } from "../src/testing/onnx/iris.js";

type Obj = Record<string, any>;

const env = clusterEnv();
const release = "ms-multimodel";
const systemNs = "ms-multimodel-system";
const slow = { timeout: 600_000 };
let ns: TestNamespace;
let collector: Collector;
let base: string;
let firstRevision: string;
const since = new Date();
const row = [6.3, 2.9, 5.6, 1.8];

/** A second, different model in the model store: y = [10, 20, 30][indices], at lookup/7 and lookup/8. */
const lookup = gatherModel([10, 20, 30]).bytes;
const lookupSha = createHash("sha256").update(lookup).digest("hex");

function manifest(lookupVersion: string): Obj {
  const md = yaml.load(readFileSync(join(repoRoot, "examples/multi-model.yaml"), "utf8")) as Obj;
  md.metadata.namespace = ns.name;
  // the example's churn model lives on an https host the cluster cannot reach: the store's lookup model instead
  md.spec.additionalModels[1] = {
    name: "lookup",
    version: lookupVersion,
    uri: `pvc://model-store/lookup/${lookupVersion}/model.onnx`,
    sha256: lookupSha,
    features: [{ name: "indices", type: "numeric" }],
  };
  return md;
}

async function md(): Promise<Obj> {
  return kubectlJson<Obj>(["get", "md", "iris-multi", "-n", ns.name]);
}

async function lookupInfer(indices: number[]): Promise<{ status: number; body: Obj; eventId?: string }> {
  const r = await request(`${base}/v2/models/lookup/infer`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      inputs: [{ name: "indices", shape: [indices.length], datatype: "INT64", data: indices }],
    }),
    signal: AbortSignal.timeout(10_000),
  });
  const eventId = r.headers["x-modelship-event-id"];
  return {
    status: r.statusCode,
    body: (await r.body.json()) as Obj,
    ...(typeof eventId === "string" ? { eventId } : {}),
  };
}

before(async () => {
  for (const v of ["7", "8"]) {
    const dir = join(repoRoot, ".e2e/models/lookup", v);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "model.onnx"), lookup);
  }
  await run("bash", [join(repoRoot, "scripts/image.sh")], { timeoutMs: 1_200_000 });
  await run("bash", [join(repoRoot, "e2e/cluster/load-images.sh")], { timeoutMs: 300_000 });
  ns = await createNamespace("multimodel", env, { pods: "real" });
  await installChart(release, systemNs, ns.name);
  collector = await releaseCollector(release, systemNs);
});

after(async () => {
  await helm(["uninstall", release, "-n", systemNs, "--wait"], { allowFailure: true, timeoutMs: 300_000 });
  await ns?.delete();
});

describe(
  "a multi-model endpoint on real pods",
  { skip: !env.bundled && "needs the bundled cluster's real node" },
  () => {
    test(
      "Given examples/multi-model.yaml, When it is applied, Then one pod fetches and serves all three models",
      slow,
      async () => {
        await kubectl(["apply", "-f", "-"], { input: JSON.stringify(manifest("7")) });
        const ready = await waitFor(
          "md/iris-multi Ready",
          async () => {
            const m = await md();
            return (m.status?.conditions ?? []).some((c: Obj) => c.type === "Ready" && c.status === "True")
              ? m
              : undefined;
          },
          { timeoutMs: 300_000 },
        );
        firstRevision = ready.status.stableRevision;
        const pods = await kubectlJson<{ items: Obj[] }>([
          "get",
          "pods",
          "-n",
          ns.name,
          "-l",
          "modelship.io/deployment=iris-multi",
        ]);
        const pod = pods.items[0]!;
        assert.deepEqual(
          pod.spec.initContainers.map((c: Obj) => c.name),
          ["fetch", "fetch-1", "fetch-2"],
        );
        for (const s of pod.status.initContainerStatuses as Obj[]) {
          assert.equal(s.state.terminated?.exitCode, 0, `${s.name} fetched and verified its model`);
        }
        base = await serviceUrl("iris-multi", ns.name);
        await waitFor(
          "iris-multi answers through its Service",
          async () => (await predict(base, "iris", [row])).ok,
          {
            timeoutMs: 60_000,
          },
        );
      },
    );

    test(
      "When each model's route is called, Then each answers with its own outputs and version",
      slow,
      async () => {
        const iris = await predict(base, "iris", [row]);
        assert.equal(iris.status, 200, JSON.stringify(iris.body));
        assert.equal(iris.body!.model_name, "iris");
        assert.equal(iris.body!.model_version, "1.0.0");
        const label = (iris.body!.outputs as Obj[]).find((o) => o.name === "label")!;
        assert.deepEqual(label.data, [irisReference(row).label]);

        const next = await predict(base, "iris-next", [row]);
        assert.equal(next.status, 200);
        assert.equal(next.body!.model_name, "iris-next");
        assert.equal(next.body!.model_version, "2.0.0");

        const l = await lookupInfer([2, 0, 1]);
        assert.equal(l.status, 200, JSON.stringify(l.body));
        assert.equal(l.body.model_name, "lookup");
        assert.equal(l.body.model_version, "7");
        assert.deepEqual((l.body.outputs as Obj[])[0]!.data, [30, 10, 20]);
      },
    );

    test(
      "Then the collector holds each model's events under its own name, with its own features",
      slow,
      async () => {
        const l = await lookupInfer([1]);
        assert.ok(l.eventId, "the event was spooled");
        const events = await waitFor(
          "the lookup event in the collector",
          async () => {
            const es = await collectorEventList(collector, ns.name, "lookup", since);
            return es.some((e) => e.id === l.eventId) ? es : undefined;
          },
          { timeoutMs: 120_000, intervalMs: 2_000 },
        );
        const e = events.find((x) => x.id === l.eventId)!;
        assert.deepEqual(e.data.model, { name: "lookup", version: "7" });
        assert.deepEqual(e.data.features, [{ indices: 1 }]);
        const irisEvents = await collectorEventList(collector, ns.name, "iris", since);
        assert.ok(irisEvents.length > 0);
        assert.ok(irisEvents.every((x) => x.data.model.name === "iris"));
        assert.deepEqual(Object.keys(irisEvents[0]!.data.features[0]).sort(), [
          "petal_length",
          "petal_width",
          "sepal_length",
          "sepal_width",
        ]);
      },
    );

    test(
      "When only an additional model's version changes, Then a new revision rolls out and serves it",
      slow,
      async () => {
        await kubectl(["apply", "-f", "-"], { input: JSON.stringify(manifest("8")) });
        await waitFor(
          "a new stable revision serving lookup 8",
          async () => {
            const m = await md();
            if (m.status?.stableRevision === firstRevision || m.status?.phase !== "Healthy") return undefined;
            const l = await lookupInfer([0]).catch(() => undefined);
            return l?.body.model_version === "8" ? m : undefined;
          },
          { timeoutMs: 300_000, intervalMs: 2_000 },
        );
        const iris = await predict(base, "iris", [row]);
        assert.equal(iris.body!.model_version, "1.0.0", "the other models are served as before");
      },
    );
  },
);
