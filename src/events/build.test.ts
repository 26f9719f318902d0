import assert from "node:assert/strict";
import { test } from "node:test";
import {
  buildFeedbackEvent,
  buildInferenceEvent,
  parseFeedback,
  shouldRecord,
  type EventConfig,
  type Exchange,
} from "./build.js";
import { FeedbackEvent, InferenceEvent, parseEvent } from "./schema.js";
import { parseRedactPaths } from "./redact.js";

const cfg: EventConfig = {
  model: "fraud",
  modelVersion: "2",
  revision: "r1",
  variant: "stable",
  features: [
    { name: "amount", type: "numeric" },
    { name: "country", type: "categorical", categories: ["DE", "FR"] },
  ],
  redact: [],
  headerAllowlist: ["x-tenant"],
  maxPayloadBytes: 1 << 20,
  sampleRate: 1,
};

function exchange(req: unknown, res: unknown, over: Partial<Exchange> = {}): Exchange {
  return {
    id: "e1",
    time: new Date("2026-01-02T03:04:05.678Z"),
    path: "/v2/models/fraud/infer",
    protocol: "v2",
    requestHeaders: { "x-request-id": "r-1", "x-tenant": "acme", authorization: "secret" },
    requestBody: Buffer.from(typeof req === "string" ? req : JSON.stringify(req)),
    status: 200,
    responseBody:
      res === undefined ? undefined : Buffer.from(typeof res === "string" ? res : JSON.stringify(res)),
    latencyMs: 1.23456,
    fallback: false,
    ...over,
  };
}

const matrixReq = {
  id: "client-1",
  inputs: [{ name: "x", datatype: "BYTES", shape: [2, 2], data: [10, "DE", 20.5, "FR"] }],
};
const matrixRes = {
  model_name: "fraud",
  outputs: [
    { name: "p", datatype: "FP32", shape: [2, 2], data: [0.1, 0.9, 0.8, 0.2] },
    { name: "label", datatype: "INT64", shape: [2], data: [1, 0] },
  ],
};

test("a 2-D input with one column per feature maps to named feature rows; predictions per row", () => {
  const e = buildInferenceEvent(exchange(matrixReq, matrixRes), cfg);
  InferenceEvent.parse(e);
  assert.equal(e.specversion, "1.0");
  assert.equal(e.type, "io.modelship.inference.v1");
  assert.equal(e.source, "modelship/fraud/r1");
  assert.equal(e.time, "2026-01-02T03:04:05.678Z");
  assert.deepEqual(e.data.features, [
    { amount: 10, country: "DE" },
    { amount: 20.5, country: "FR" },
  ]);
  assert.deepEqual(e.data.predictions, [
    [0.1, 0.9],
    [0.8, 0.2],
  ]);
  assert.equal(e.data.request.id, "client-1");
  assert.deepEqual(e.data.headers, { "x-request-id": "r-1", "x-tenant": "acme" });
  assert.equal(e.data.latencyMs, 1.235);
  assert.equal(e.data.error, undefined);
});

test("input tensors named like features map by name, nested data included", () => {
  const req = {
    inputs: [
      { name: "amount", datatype: "FP32", shape: [2, 1], data: [[1], [2]] },
      { name: "country", datatype: "BYTES", shape: [2], data: ["DE", "FR"] },
      { name: "other", datatype: "FP32", shape: [2], data: [0, 0] },
    ],
  };
  const e = buildInferenceEvent(exchange(req, matrixRes), cfg);
  assert.deepEqual(e.data.features, [
    { amount: 1, country: "DE" },
    { amount: 2, country: "FR" },
  ]);
});

test("KServe v1 instances map by key or by position", () => {
  const v1 = { path: "/v1/models/fraud:predict", protocol: "v1" as const };
  const byKey = buildInferenceEvent(
    exchange({ instances: [{ amount: 5, country: "FR", extra: 1 }] }, { predictions: [0.3] }, v1),
    cfg,
  );
  assert.deepEqual(byKey.data.features, [{ amount: 5, country: "FR" }]);
  assert.deepEqual(byKey.data.predictions, [0.3]);
  const byPos = buildInferenceEvent(
    exchange({ instances: [[7, "DE"]] }, { predictions: [[0.1, 0.9]] }, v1),
    cfg,
  );
  assert.deepEqual(byPos.data.features, [{ amount: 7, country: "DE" }]);
  assert.deepEqual(byPos.data.request.inputs[0]?.shape, [1, 2]);
});

test("requests that do not fit the schema carry tensors but no features", () => {
  const req = { inputs: [{ name: "x", datatype: "FP32", shape: [1, 3], data: [1, 2, 3] }] };
  const e = buildInferenceEvent(exchange(req, matrixRes), cfg);
  assert.equal(e.data.features, undefined);
  assert.deepEqual(e.data.request.inputs[0]?.data, [1, 2, 3]);
});

test("upstream errors keep status and error; an unparseable request keeps its raw body", () => {
  const e = buildInferenceEvent(
    exchange("{not json", '{"error":"bad tensor"}', {
      status: 400,
      error: { type: "bad_request", message: "bad tensor" },
    }),
    cfg,
  );
  InferenceEvent.parse(e);
  assert.equal(e.data.status, 400);
  assert.deepEqual(e.data.error, { type: "bad_request", message: "bad tensor" });
  assert.equal(e.data.request.body, "{not json");
  assert.deepEqual(e.data.request.inputs, []);
  assert.equal(e.data.response, undefined);
});

test("a 2xx answer that is not an inference response is a malformed_response error", () => {
  for (const body of ["<html>oops</html>", '{"outputs":"nope"}', '{"outputs":[{"name":"y"}]}', ""]) {
    const e = buildInferenceEvent(exchange(matrixReq, body), cfg);
    assert.equal(e.data.status, 200);
    assert.equal(e.data.error?.type, "malformed_response", body);
    assert.equal(e.data.response, undefined);
  }
});

test("payloads over the cap keep tensor metadata, drop data and say truncated", () => {
  const big = {
    inputs: [{ name: "x", datatype: "FP32", shape: [1000, 2], data: new Array(2000).fill(1.5) }],
  };
  const e = buildInferenceEvent(exchange(big, matrixRes), { ...cfg, maxPayloadBytes: 1000 });
  assert.equal(e.data.truncated, true);
  assert.deepEqual(e.data.request.inputs, [{ name: "x", datatype: "FP32", shape: [1000, 2] }]);
  assert.equal(e.data.features, undefined);
  assert.ok(JSON.stringify(e).length < 2000, "the event stays small");

  const bigRes = {
    outputs: [{ name: "y", datatype: "FP32", shape: [2000], data: new Array(2000).fill(0.25) }],
  };
  const r = buildInferenceEvent(exchange(matrixReq, bigRes), { ...cfg, maxPayloadBytes: 1000 });
  assert.equal(r.data.truncated, true);
  assert.equal(r.data.predictions, undefined);
  assert.deepEqual(r.data.response?.outputs, [{ name: "y", datatype: "FP32", shape: [2000] }]);
  assert.ok(r.data.features !== undefined, "the small request is still recorded in full");

  const raw = buildInferenceEvent(exchange("x".repeat(5000), undefined, { status: 400 }), {
    ...cfg,
    maxPayloadBytes: 100,
  });
  assert.equal(raw.data.request.body?.length, 100);
  assert.equal(raw.data.truncated, true);
});

test("redaction removes tensor data, features, headers and parameters, and lists what matched", () => {
  const req = {
    parameters: { user: "u1", keep: 1 },
    inputs: [
      { name: "amount", datatype: "FP32", shape: [1], data: [3] },
      { name: "country", datatype: "BYTES", shape: [1], data: ["DE"] },
    ],
  };
  const redactCfg = {
    ...cfg,
    headerAllowlist: ["x-tenant", "authorization"],
    redact: parseRedactPaths([
      "inputs.country",
      "headers.Authorization",
      "parameters.user",
      "outputs.p",
      "features.nope",
    ]),
  };
  const e = buildInferenceEvent(exchange(req, matrixRes), redactCfg);
  assert.equal(e.data.request.inputs[1]?.data, undefined);
  assert.deepEqual(e.data.request.inputs[1]?.shape, [1]);
  assert.deepEqual(e.data.features, [{ amount: 3 }]);
  assert.equal(e.data.headers.authorization, undefined);
  assert.deepEqual(e.data.request.parameters, { keep: 1 });
  assert.equal(e.data.response?.outputs[0]?.data, undefined);
  assert.equal(e.data.predictions, undefined, "predictions come from the redacted first output");
  assert.deepEqual(e.data.redacted?.sort(), [
    "headers.authorization",
    "inputs.country",
    "outputs.p",
    "parameters.user",
  ]);
  assert.throws(() => parseRedactPaths(["ssn"]), /--redact "ssn" is not a path; use inputs.NAME/);
});

test("sampling applies to successes only", () => {
  assert.equal(
    shouldRecord(200, 0, () => 0.5),
    false,
  );
  assert.equal(
    shouldRecord(200, 0.6, () => 0.5),
    true,
  );
  assert.equal(
    shouldRecord(200, 0.4, () => 0.5),
    false,
  );
  for (const s of [400, 499, 500, 502, 504])
    assert.equal(
      shouldRecord(s, 0, () => 0.99),
      true,
    );
});

test("feedback bodies are validated and become feedback events", () => {
  const input = parseFeedback({ id: "e1", groundTruth: [1, 0], time: "2026-01-01T00:00:00+01:00" });
  assert.deepEqual(input, { eventId: "e1", groundTruth: [1, 0], time: "2025-12-31T23:00:00.000Z" });
  const e = buildFeedbackEvent("f1", new Date("2026-01-02T00:00:00Z"), input, cfg);
  FeedbackEvent.parse(e);
  assert.equal(parseEvent(JSON.stringify(e)).type, "io.modelship.feedback.v1");
  assert.equal(e.data.eventId, "e1");
  assert.deepEqual(parseFeedback({ eventId: "x", ground_truth: "cat" }), {
    eventId: "x",
    groundTruth: "cat",
  });
  assert.throws(() => parseFeedback({ groundTruth: 1 }), /"id" must be the id of the inference event/);
  assert.throws(() => parseFeedback({ id: "e1" }), /"groundTruth" must be/);
  assert.throws(
    () => parseFeedback({ id: "e1", groundTruth: 1, time: "yesterday" }),
    /"time" must be an RFC 3339/,
  );
  assert.throws(() => parseFeedback([1]), /must be a JSON object/);
});

test("parseEvent rejects events that break the schema, naming the field", () => {
  const e = buildInferenceEvent(exchange(matrixReq, matrixRes), cfg);
  assert.throws(() => parseEvent({ ...e, specversion: "0.3" }), /specversion/);
  assert.throws(() => parseEvent({ ...e, data: { ...e.data, variant: "blue" } }), /variant/);
  assert.throws(() => parseEvent({ ...e, type: "other" }), /type/);
});
