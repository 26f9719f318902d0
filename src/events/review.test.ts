import assert from "node:assert/strict";
import { test } from "node:test";
import { buildInferenceEvent, type EventConfig } from "./build.js";
import { InferenceEvent } from "./schema.js";
import { idDraw, parseReviewRule, reviewMark, topProbabilities } from "./review.js";

const rule = { threshold: 0.6, sampleRate: 1, output: "probabilities" };
const probs = (shape: number[], data: unknown[]) => ({
  name: "probabilities",
  datatype: "FP32",
  shape,
  data,
});

test("topProbabilities: the max of each row, max(p, 1-p) for one probability per row", () => {
  const cases: [number[], unknown[], number[] | undefined][] = [
    [
      [2, 3],
      [0.7, 0.2, 0.1, 0.4, 0.35, 0.25],
      [0.7, 0.4],
    ],
    [
      [2, 3],
      [
        [0.7, 0.2, 0.1],
        [0.4, 0.35, 0.25],
      ],
      [0.7, 0.4],
    ],
    [[2], [0.9, 0.45], [0.9, 0.55]],
    [
      [2, 1],
      [0.2, 0.5],
      [0.8, 0.5],
    ],
    [[1, 2], [1.5, -0.5], undefined], // logits, not probabilities
    [[1, 2], ["a", "b"], undefined],
    [[2, 2], [0.5, 0.5, 0.5], undefined], // rows do not divide the data
    [[0, 3], [], undefined],
  ];
  for (const [shape, data, want] of cases)
    assert.deepEqual(topProbabilities(probs(shape, data)), want, JSON.stringify(data));
});

test("reviewMark: marks a batch when any row is below the threshold, naming the rows and the lowest", () => {
  const batch = [probs([3, 3], [0.9, 0.05, 0.05, 0.5, 0.45, 0.05, 0.55, 0.4, 0.05])];
  assert.deepEqual(reviewMark(batch, rule, "e1"), {
    reason: "low_confidence",
    topProbability: 0.5,
    threshold: 0.6,
    rows: [1, 2],
  });
  assert.equal(reviewMark([probs([1, 3], [0.9, 0.05, 0.05])], rule, "e2"), undefined, "sure enough");
  assert.equal(
    reviewMark([probs([1, 2], [0.5, 0.5])], { ...rule, output: "scores" }, "e3"),
    undefined,
    "no such output",
  );
  assert.equal(reviewMark([], rule, "e4"), undefined);
});

test("reviewMark: the sample is drawn from the event id, the same for the same id, near the rate over many", () => {
  const low = [probs([1, 2], [0.5, 0.5])];
  const half = { ...rule, sampleRate: 0.5 };
  let marked = 0;
  for (let i = 0; i < 4000; i++) {
    const id = `0b6f${i.toString(16)}-4c1d-9e7a-${i}`;
    const m = reviewMark(low, half, id);
    assert.deepEqual(reviewMark(low, half, id), m, "same id, same draw");
    if (m) marked++;
  }
  // 4000 draws at p = 0.5: 99.9% of runs land within +-3.29 sd (sd = 31.6)
  assert.ok(Math.abs(marked - 2000) < 110, `${marked} of 4000 marked at sampleRate 0.5`);
  assert.ok(idDraw("x") >= 0 && idDraw("x") < 1);
});

test("buildInferenceEvent: a low-confidence answer carries data.review, valid under the schema, also when truncated", () => {
  const cfg: EventConfig = {
    model: "iris",
    revision: "r1",
    variant: "stable",
    features: [],
    redact: [],
    headerAllowlist: [],
    maxPayloadBytes: 1 << 20,
    sampleRate: 1,
    review: rule,
  };
  const ex = (id: string, p: number[]) => ({
    id,
    time: new Date("2026-01-01T00:00:00Z"),
    path: "/v2/models/iris/infer",
    protocol: "v2" as const,
    requestHeaders: {},
    requestBody: Buffer.from(
      JSON.stringify({ inputs: [{ name: "input", datatype: "FP32", shape: [1, 4], data: [6, 3, 5, 2] }] }),
    ),
    status: 200,
    responseBody: Buffer.from(JSON.stringify({ outputs: [probs([1, 3], p)] })),
    latencyMs: 1,
    fallback: false,
  });
  const low = buildInferenceEvent(ex("a", [0.0, 0.52, 0.48]), cfg);
  assert.deepEqual(low.data.review, {
    reason: "low_confidence",
    topProbability: 0.52,
    threshold: 0.6,
    rows: [0],
  });
  InferenceEvent.parse(low);
  assert.equal(buildInferenceEvent(ex("b", [0.95, 0.03, 0.02]), cfg).data.review, undefined);
  assert.equal(
    buildInferenceEvent(ex("c", [0.0, 0.52, 0.48]), { ...cfg, review: undefined }).data.review,
    undefined,
  );
  const capped = buildInferenceEvent(ex("d", [0.0, 0.52, 0.48]), { ...cfg, maxPayloadBytes: 10 });
  assert.equal(capped.data.truncated, true);
  assert.equal(capped.data.review?.topProbability, 0.52, "marked before the cap strips the data");
});

test("parseReviewRule: names the bad flag", () => {
  assert.equal(parseReviewRule(undefined, undefined, undefined), undefined);
  assert.deepEqual(parseReviewRule("0.6", undefined, undefined), rule);
  assert.deepEqual(parseReviewRule("0.7", "0.25", "probs"), {
    threshold: 0.7,
    sampleRate: 0.25,
    output: "probs",
  });
  assert.throws(() => parseReviewRule("0", undefined, undefined), /--review-threshold must be a probability/);
  assert.throws(() => parseReviewRule("1.5", undefined, undefined), /--review-threshold/);
  assert.throws(() => parseReviewRule("0.6", "2", undefined), /--review-sample-rate must be in/);
  assert.throws(() => parseReviewRule(undefined, "0.5", undefined), /need --review-threshold/);
});
