import { test } from "node:test";
import assert from "node:assert/strict";
import { status } from "@grpc/grpc-js";
import { encodeInferResponse, failureOf } from "./grpc-codec.js";
import { HttpError } from "./protocol.js";
import { InferenceError, QueueFullError, TimeoutError } from "./scheduler.js";
import type { Signature } from "./signature.js";

const sig: Signature = {
  inputs: [{ name: "x", type: "float32", shape: [-1, 2] }],
  outputs: [
    { name: "y", type: "float32", shape: [-1, 2] },
    { name: "h", type: "float16", shape: [-1, 2] },
    { name: "n", type: "int64", shape: [-1] },
  ],
};
const outputs = {
  y: { type: "float32" as const, dims: [1, 2], data: Float32Array.of(1.5, -2) },
  h: { type: "float16" as const, dims: [1, 2], data: Uint16Array.of(0x3e00, 0xc000) },
  n: { type: "int64" as const, dims: [1], data: BigInt64Array.of(2n ** 60n) },
};

test("typed answers for typed requests, raw for raw ones; an FP16 output makes the whole answer raw", () => {
  const typed = encodeInferResponse("m", "1", "a", sig, outputs, ["y", "n"], false);
  assert.deepEqual(typed, {
    model_name: "m",
    model_version: "1",
    id: "a",
    outputs: [
      { name: "y", datatype: "FP32", shape: [1, 2], contents: { fp32_contents: [1.5, -2] } },
      { name: "n", datatype: "INT64", shape: [1], contents: { int64_contents: ["1152921504606846976"] } },
    ],
    raw_output_contents: [],
  });
  const raw = encodeInferResponse("m", "1", undefined, sig, outputs, ["n"], true);
  assert.equal(raw.id, "");
  assert.deepEqual(raw.outputs, [{ name: "n", datatype: "INT64", shape: [1] }]);
  assert.deepEqual(Buffer.from(raw.raw_output_contents[0]!), Buffer.from(BigInt64Array.of(2n ** 60n).buffer));
  const withHalf = encodeInferResponse("m", "1", undefined, sig, outputs, undefined, false);
  assert.deepEqual(
    withHalf.outputs.map((o) => [o.name, o.contents]),
    [
      ["y", undefined],
      ["h", undefined],
      ["n", undefined],
    ],
  );
  assert.equal(withHalf.raw_output_contents.length, 3);
});

test("each failure maps to a gRPC status and the HTTP status the same failure gets", () => {
  const cases: [unknown, status, number, RegExp][] = [
    [new HttpError(400, "bad shape"), status.INVALID_ARGUMENT, 400, /^bad shape$/],
    [new HttpError(404, "no model"), status.NOT_FOUND, 404, /no model/],
    [new HttpError(503, "loading"), status.UNAVAILABLE, 503, /loading/],
    [new QueueFullError("queued (--max-queue)"), status.RESOURCE_EXHAUSTED, 503, /max-queue/],
    [new TimeoutError("did not answer"), status.DEADLINE_EXCEEDED, 504, /did not answer/],
    [
      new InferenceError("Gather: index 9"),
      status.INVALID_ARGUMENT,
      400,
      /^model rejected the inputs: Gather/,
    ],
    [new Error("secret internals"), status.INTERNAL, 500, /^internal error$/],
  ];
  for (const [err, code, http, details] of cases) {
    const f = failureOf(err);
    assert.equal(f.code, code, String(err));
    assert.equal(f.http, http, String(err));
    assert.match(f.details, details);
    assert.equal(f.unexpected, http === 500);
  }
});
