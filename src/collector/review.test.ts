// The human review queue end to end on loopback, with real processes: the model server with the real iris
// classifier marks its low-confidence answers (and the logger sidecar does in front of it), the collector
// queues them and keeps the queue on disk, `modelship review` claims and labels them, and the drift job
// reads the labels as concept-drift feedback.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { after, before, describe, test } from "node:test";
import { EVENT_ID_HEADER } from "../events/constants.js";
import { irisCentroids, irisFeatures, irisModel, irisReference } from "../testing/onnx/iris.js";
import { seededRandom, writeModel } from "../testing/onnx/builders.js";
import {
  DEV_LAUNCHER,
  eventually,
  metricValue,
  startCli,
  startCollectorCli,
  startLoggerCli,
  startServe,
  tmp,
  type Cli,
} from "../testing/procs.js";

const run = promisify(execFile);
type Obj = Record<string, any>;

const dir = tmp("review");
const dataDir = join(dir, "events");
const tokenFile = join(dir, "token");
const token = "review-test-token";
writeFileSync(tokenFile, token + "\n");
const features = JSON.stringify(irisFeatures.map((name) => ({ name, type: "numeric" })));
const review = ["--review-threshold", "0.6", "--review-output", "probabilities"];

let collector: { cli: Cli; url: string };
let serve: { cli: Cli; url: string };
let plain: { cli: Cli; url: string };
let logger: { cli: Cli; url: string };

/** A flower t of the way from the versicolor to the virginica mean: near t = 0.5 the model is unsure. */
const between = (t: number) =>
  irisCentroids[1]!.map((m, f) => Math.fround(m + t * (irisCentroids[2]![f]! - m)));

async function predict(base: string, row: number[]): Promise<string> {
  const r = await fetch(`${base}/v2/models/iris/infer`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ inputs: [{ name: "input", shape: [1, 4], datatype: "FP32", data: row }] }),
  });
  assert.equal(r.status, 200, await r.clone().text());
  await r.arrayBuffer();
  const id = r.headers.get(EVENT_ID_HEADER);
  assert.ok(id, "the answer names its event");
  return id;
}

/** `modelship review ...` as a user runs it; resolves its exit code and output. */
async function reviewCli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      [...DEV_LAUNCHER, "review", ...args, "--collector", collector.url, "--token-file", tokenFile],
      { timeout: 60_000 },
    );
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

async function collectorGet(path: string): Promise<Response> {
  return fetch(`${collector.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
}

before(async () => {
  writeModel(irisModel(), dir, "iris.onnx");
  collector = await startCollectorCli(dataDir, 0, ["--token-file", tokenFile]);
  const sink = ["--sink", collector.url, "--sink-token-file", tokenFile, "--features", features];
  serve = await startServe([`iris=${join(dir, "iris.onnx")}`], DEV_LAUNCHER, [
    ...sink,
    "--spool-dir",
    join(dir, "spool-serve"),
    "--revision",
    "r1",
    ...review,
  ]);
  // a custom container's place: a model server that records nothing itself, the logger in front of it
  plain = await startServe([`iris=${join(dir, "iris.onnx")}`]);
  logger = await startLoggerCli([
    "--model",
    "iris-sidecar",
    "--upstream",
    plain.url,
    ...sink,
    "--spool-dir",
    join(dir, "spool-logger"),
    ...review,
  ]);
});

after(async () => {
  await logger?.cli.stop();
  await plain?.cli.stop();
  await serve?.cli.stop();
  await collector?.cli.stop();
});

describe("human review queue", () => {
  const unsure: string[] = [];
  const sure: string[] = [];

  test("Given review at 0.6, When the server answers sure and unsure flowers, Then only the unsure ones are queued", async () => {
    for (const m of irisCentroids) sure.push(await predict(serve.url, [...m]));
    for (const t of [0.42, 0.47, 0.53, 0.58]) unsure.push(await predict(serve.url, between(t)));
    const listed = await eventually(
      async () => {
        const r = await reviewCli("list", "iris", "-o", "json");
        assert.equal(r.code, 0, r.stderr);
        const body = JSON.parse(r.stdout) as Obj;
        return body.items.length === unsure.length ? body : undefined;
      },
      30_000,
      "4 items in the review queue",
    );
    assert.deepEqual(new Set(listed.items.map((i: Obj) => i.eventId)), new Set(unsure));
    assert.deepEqual(listed.counts, { pending: 4, claimed: 0, labeled: 0 });
    for (const i of listed.items as Obj[]) {
      assert.ok(i.topProbability < 0.6 && i.topProbability >= 0.5, `top p ${i.topProbability}`);
      assert.deepEqual(Object.keys(i.features[0]), [...irisFeatures], "the reviewer sees the features");
      assert.equal(i.predictions[0].length, 3, "and the class probabilities");
    }
    const table = await reviewCli("list", "iris");
    assert.match(table.stdout, /iris: 4 pending, 0 claimed, 0 labeled/);
    assert.match(table.stdout, /EVENT ID +STATE +TOP P/);
    // the stored events carry the mark
    const events = (await (await collectorGet("/v1/events?model=iris&type=inference")).text())
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as Obj);
    assert.equal(events.filter((e) => e.data.review).length, 4);
    const marked = events.find((e) => e.id === unsure[0])!;
    assert.equal(marked.data.review.reason, "low_confidence");
    assert.equal(marked.data.review.threshold, 0.6);
    assert.deepEqual(marked.data.review.rows, [0]);
  });

  test("Given the logger sidecar with review flags, Then it marks and the collector queues its unsure answers too", async () => {
    await predict(logger.url, [...irisCentroids[0]!]);
    const id = await predict(logger.url, between(0.5));
    const body = await eventually(
      async () => {
        const r = await reviewCli("list", "iris-sidecar", "-o", "json");
        const b = JSON.parse(r.stdout) as Obj;
        return b.items.length === 1 ? b : undefined;
      },
      30_000,
      "the sidecar's item",
    );
    assert.equal(body.items[0].eventId, id);
  });

  test("When ana claims, Then bo gets nothing and cannot label ana's items; ana's labels become feedback events", async () => {
    const claimed = await reviewCli("claim", "iris", "--reviewer", "ana", "--count", "10", "-o", "json");
    assert.equal(claimed.code, 0, claimed.stderr);
    const items = (JSON.parse(claimed.stdout) as Obj).items as Obj[];
    assert.equal(items.length, 4);
    assert.ok(items.every((i) => i.claim.reviewer === "ana"));
    const none = await reviewCli("claim", "iris", "--reviewer", "bo", "-o", "json");
    assert.deepEqual((JSON.parse(none.stdout) as Obj).items, []);
    const refused = await reviewCli("label", "iris", unsure[0]!, "2", "--reviewer", "bo");
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /collector answered 409: .*claimed by ana/);

    // the truth: the two nearer versicolor are versicolor (1), the other two virginica (2)
    const truth = [1, 1, 2, 2];
    for (const [i, id] of unsure.entries()) {
      const r = await reviewCli("label", "iris", id, String(truth[i]), "--reviewer", "ana");
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^Labeled .*: feedback event [0-9a-f-]{36}\n$/);
    }
    const again = await reviewCli("label", "iris", unsure[0]!, "1", "--reviewer", "ana");
    assert.equal(again.code, 0, "the same label again is accepted (a retry)");
    const different = await reviewCli("label", "iris", unsure[0]!, "2", "--reviewer", "ana");
    assert.match(different.stderr, /409: .*labeled 1 by ana already/);
    const unknown = await reviewCli("label", "iris", "no-such-event", "1", "--reviewer", "ana");
    assert.match(unknown.stderr, /404: event no-such-event is not in the review queue of model iris/);

    const feedback = (await (await collectorGet("/v1/events?model=iris&type=feedback")).text())
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as Obj);
    assert.equal(feedback.length, 4, "one feedback event per label, the retry de-duplicated");
    const inference = (await (await collectorGet("/v1/events?model=iris&type=inference")).text())
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as Obj);
    for (const [i, id] of unsure.entries()) {
      const f = feedback.find((e) => e.data.eventId === id);
      assert.ok(f, `feedback for ${id}`);
      assert.equal(f.type, "io.modelship.feedback.v1");
      assert.equal(f.data.groundTruth, truth[i]);
      assert.equal(f.source, inference.find((e) => e.id === id)!.source, "the same source as its prediction");
      assert.deepEqual(f.data.model, { name: "iris", version: "1" });
    }
  });

  test("Then the collector's metrics count the queue, and the queue outlives a restart", async () => {
    const metrics = await (await fetch(`${collector.url}/metrics`)).text();
    assert.equal(metricValue(metrics, "modelship_collector_review_items_total", { result: "queued" }), 5);
    assert.equal(metricValue(metrics, "modelship_collector_review_items_total", { result: "claimed" }), 4);
    assert.equal(metricValue(metrics, "modelship_collector_review_items_total", { result: "labeled" }), 4);
    assert.equal(
      metricValue(metrics, "modelship_collector_review_queue_items", { model: "iris", state: "labeled" }),
      4,
    );
    assert.equal(
      metricValue(metrics, "modelship_collector_review_queue_items", {
        model: "iris-sidecar",
        state: "pending",
      }),
      1,
    );

    const port = new URL(collector.url).port;
    await collector.cli.stop();
    collector = await startCollectorCli(dataDir, Number(port), ["--token-file", tokenFile]);
    const r = await reviewCli("list", "iris", "--state", "all", "-o", "json");
    assert.deepEqual((JSON.parse(r.stdout) as Obj).counts, { pending: 0, claimed: 0, labeled: 4 });
    const open = await fetch(`${collector.url}/v1/review/iris`);
    assert.equal(open.status, 401, "the review API needs the token like the rest of the API");
  });

  test("When the drift job runs, Then concept drift is evaluated on the reviewers' labels", async () => {
    // a baseline with reference quality: the training rows with their species and the model's prediction
    const rand = seededRandom(7);
    const rows = [[...irisFeatures, "species", "predicted"].join(",")];
    irisCentroids.forEach((mu, k) => {
      for (let i = 0; i < 30; i++) {
        const x = mu.map((m) => m + (rand() - 0.5) * 0.6);
        rows.push([...x.map((v) => v.toFixed(2)), k, irisReference(x).label].join(","));
      }
    });
    writeFileSync(join(dir, "train.csv"), rows.join("\n") + "\n");
    const baseline = join(dir, "baseline.json");
    const b = startCli([
      "baseline",
      "--data",
      join(dir, "train.csv"),
      "--out",
      baseline,
      "--label-field",
      "species",
      "--prediction-field",
      "predicted",
    ]);
    assert.equal(await b.exited, 0);
    const out = join(dir, "report.json");
    const drift = startCli([
      "drift",
      "--baseline",
      baseline,
      "--events",
      collector.url,
      "--collector-token-file",
      tokenFile,
      "--model",
      "iris",
      "--window",
      "1h",
      "--workers",
      "0",
      "--out",
      out,
    ]);
    const code = await drift.exited;
    const report = JSON.parse(readFileSync(out, "utf8")) as Obj;
    assert.ok(code === 0 || code === 1, `drift exited ${code}`);
    const q = report.quality;
    assert.equal(q.feedbackEvents >= 4, true, JSON.stringify(q));
    assert.equal(q.unmatched, 0);
    assert.equal(q.window.n, 4, "the four labeled predictions are scored");
    // the model said versicolor for t < 0.5 and virginica above: every label agrees with it
    assert.equal(q.window.accuracy, 1);
    assert.ok(q.verdict === "ok", `${q.verdict}: ${q.reason}`);
  });
});
