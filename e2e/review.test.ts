// Human review on real pods: the image built here, the chart installed with helm, the iris classifier
// served with spec.monitoring.review. Low-confidence predictions are marked by the serving pod and queued
// by the collector pod; a reviewer claims and labels them with `modelship review`; the labels are stored
// as feedback events, and the drift CronJob's pod scores the model on them (concept drift). Each test is a
// step of one story in one namespace, in order. Run with `npm run test:e2e -- review`.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import yaml from "js-yaml";
import { fetch } from "undici";
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
import { labeledBaseline, reviewCli, unsureFlower } from "./lib/review.js";
import { irisCentroids } from "../src/testing/onnx/iris.js";

type Obj = Record<string, any>;

const env = clusterEnv();
const release = "ms-review";
const systemNs = "ms-review-system";
const slow = { timeout: 600_000 };
let ns: TestNamespace;
let collector: Collector;
let base: string;
const sure: string[] = [];
const unsure: string[] = [];
/** The truth a reviewer gives: the flowers nearer versicolor (t < 0.5) are versicolor (1), the others virginica (2). */
const ts = [0.42, 0.46, 0.54, 0.58];
const truth = [1, 1, 2, 2];

before(async () => {
  await run("bash", [join(repoRoot, "scripts/image.sh")], { timeoutMs: 1_200_000 });
  await run("bash", [join(repoRoot, "e2e/cluster/load-images.sh")], { timeoutMs: 300_000 });
  ns = await createNamespace("review", env, { pods: "real" });
  await installChart(release, systemNs, ns.name);
  collector = await releaseCollector(release, systemNs);
});

after(async () => {
  await helm(["uninstall", release, "-n", systemNs, "--wait"], { allowFailure: true, timeoutMs: 300_000 });
  await ns?.delete();
});

describe(
  "human review on real pods",
  { skip: !env.bundled && "needs the bundled cluster's real node" },
  () => {
    test(
      "Given examples/review.yaml, When it is applied, Then its pod serves with the review flags",
      slow,
      async () => {
        const md = yaml.load(readFileSync(join(repoRoot, "examples/review.yaml"), "utf8")) as Obj;
        md.metadata.namespace = ns.name;
        md.spec.monitoring.drift.baselineUri = await labeledBaseline("iris/review");
        await kubectl(["apply", "-f", "-"], { input: JSON.stringify(md) });
        await waitFor(
          "md/iris Ready",
          async () => {
            const m = await kubectlJson<Obj>(["get", "md", "iris", "-n", ns.name]);
            return (m.status?.conditions ?? []).some((c: Obj) => c.type === "Ready" && c.status === "True");
          },
          { timeoutMs: 300_000 },
        );
        const pods = await kubectlJson<{ items: Obj[] }>([
          "get",
          "pods",
          "-n",
          ns.name,
          "-l",
          "modelship.io/deployment=iris",
        ]);
        const args: string[] = pods.items[0]!.spec.containers.find((c: Obj) => c.name === "serve").args;
        assert.deepEqual(
          args.slice(args.indexOf("--review-threshold"), args.indexOf("--review-threshold") + 6),
          ["--review-threshold", "0.6", "--review-sample-rate", "1", "--review-output", "probabilities"],
        );
        base = await serviceUrl("iris", ns.name);
        await waitFor(
          "iris answers through its Service",
          async () => (await predict(base, "iris", [irisCentroids[0]! as number[]])).ok,
          {
            timeoutMs: 60_000,
          },
        );
      },
    );

    test(
      "When sure and unsure flowers are predicted, Then only the unsure ones are marked and queued",
      slow,
      async () => {
        for (let i = 0; i < 60; i++) {
          const p = await predict(base, "iris", [
            irisCentroids[i % 3]!.map((m) => Math.fround(m + ((i % 7) - 3) * 0.05)),
          ]);
          assert.equal(p.status, 200);
          sure.push(p.eventId!);
        }
        for (const t of ts) {
          const p = await predict(base, "iris", [unsureFlower(t)]);
          assert.equal(p.status, 200);
          unsure.push(p.eventId!);
        }
        const listed = await waitFor(
          "the 4 unsure predictions in the review queue",
          async () => {
            const r = await reviewCli(collector, "list", "iris", "-o", "json");
            if (r.code !== 0) return undefined;
            const body = JSON.parse(r.stdout) as Obj;
            return body.items.length >= unsure.length ? body : undefined;
          },
          { timeoutMs: 120_000, intervalMs: 2_000 },
        );
        assert.deepEqual(new Set(listed.items.map((i: Obj) => i.eventId)), new Set(unsure));
        const events = await collectorEventList(collector, ns.name, "iris", new Date(Date.now() - 3_600_000));
        const marked = events.filter((e) => e.data?.review !== undefined);
        assert.deepEqual(
          new Set(marked.map((e) => e.id)),
          new Set(unsure),
          "the serving pod marked exactly those",
        );
        assert.ok(
          marked.every(
            (e) => e.data.review.topProbability < 0.6 && e.data.review.reason === "low_confidence",
          ),
        );
      },
    );

    test(
      "When a reviewer claims and labels them with the CLI, Then each label is a feedback event for its prediction",
      slow,
      async () => {
        const claimed = await reviewCli(
          collector,
          "claim",
          "iris",
          "--reviewer",
          "ana",
          "--count",
          "10",
          "-o",
          "json",
        );
        assert.equal(claimed.code, 0, claimed.stderr);
        assert.equal((JSON.parse(claimed.stdout) as Obj).items.length, 4);
        const other = await reviewCli(collector, "label", "iris", unsure[0]!, "1", "--reviewer", "bo");
        assert.equal(other.code, 1);
        assert.match(other.stderr, /409: .*claimed by ana/);
        for (const [i, id] of unsure.entries()) {
          const r = await reviewCli(collector, "label", "iris", id, String(truth[i]), "--reviewer", "ana");
          assert.equal(r.code, 0, r.stderr);
        }
        const listed = await reviewCli(collector, "list", "iris", "--state", "all", "-o", "json");
        assert.deepEqual((JSON.parse(listed.stdout) as Obj).counts, { pending: 0, claimed: 0, labeled: 4 });
        const events = await collectorEventList(collector, ns.name, "iris", new Date(Date.now() - 3_600_000));
        const feedback = events.filter((e) => e.type === "io.modelship.feedback.v1");
        for (const [i, id] of unsure.entries()) {
          const f = feedback.find((e) => e.data.eventId === id);
          assert.ok(f, `feedback for ${id}`);
          assert.equal(f.data.groundTruth, truth[i]);
          assert.equal(f.source, events.find((e) => e.id === id)!.source);
        }
      },
    );

    test(
      "When the drift CronJob's pod runs, Then its report scores the model on the reviewers' labels",
      slow,
      async () => {
        const cronjob = "iris-drift"; // <md>-drift, as the controller names it
        await kubectl(["create", "job", "drift-review", "-n", ns.name, `--from=cronjob/${cronjob}`]);
        await waitFor(
          "job/drift-review finished",
          async () => {
            const j = await kubectlJson<Obj>(["get", "job", "drift-review", "-n", ns.name]);
            return (j.status?.conditions ?? []).some(
              (c: Obj) => (c.type === "Complete" || c.type === "Failed") && c.status === "True",
            );
          },
          { timeoutMs: 300_000, intervalMs: 2_000 },
        );
        const r = await fetch(`${collector.url}/v1/reports/iris/latest`, {
          headers: { authorization: `Bearer ${collector.token}` },
        });
        assert.equal(r.status, 200, await r.clone().text());
        const report = (await r.json()) as Obj;
        const q = report.quality;
        assert.ok(q, `the report has a quality section: ${JSON.stringify(report).slice(0, 500)}`);
        assert.equal(q.feedbackEvents >= 4, true, JSON.stringify(q));
        assert.equal(q.unmatched, 0);
        assert.equal(q.window.n, 4, "the four labeled predictions are scored");
        assert.equal(q.window.accuracy, 1, "the reviewers agreed with the model's argmax");
        assert.equal(q.verdict, "ok", q.reason);
      },
    );
  },
);
