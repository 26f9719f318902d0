import assert from "node:assert/strict";
import { test } from "node:test";
import { inputsOf, recordedRequests, seeded, syntheticRequest } from "./payload.js";
import { residentBytes } from "./memory.js";

test("syntheticRequest: the first dynamic dimension is the batch, others 1; values of each datatype", () => {
  const rand = seeded(7);
  const req = syntheticRequest(
    [
      { name: "input", datatype: "FP32", shape: [-1, 4] },
      { name: "ids", datatype: "INT64", shape: [-1, -1] },
      { name: "flag", datatype: "BOOL", shape: [1] },
      { name: "text", datatype: "BYTES", shape: [-1] },
    ],
    3,
    rand,
  );
  assert.deepEqual(
    req.inputs.map((i) => [i.name, i.shape, i.data.length]),
    [
      ["input", [3, 4], 12],
      ["ids", [3, 1], 3],
      ["flag", [1], 1],
      ["text", [3], 3],
    ],
  );
  const [fp, ints, flag, text] = req.inputs;
  assert.ok(fp!.data.every((x) => typeof x === "number" && x >= 0 && x < 1));
  assert.ok(ints!.data.every((x) => Number.isInteger(x)));
  assert.equal(typeof flag!.data[0], "boolean");
  assert.equal(typeof text!.data[0], "string");
  // the same seed makes the same requests
  assert.deepEqual(
    syntheticRequest([{ name: "input", datatype: "FP32", shape: [-1, 4] }], 1, seeded(7)).inputs[0]!.data,
    fp!.data.slice(0, 4),
  );
  assert.throws(() => syntheticRequest([], 1, rand), /lists no inputs/);
});

test("inputsOf: the inputs of a v2 metadata document; a name for a dimension counts as dynamic", () => {
  assert.deepEqual(
    inputsOf({ name: "iris", inputs: [{ name: "input", datatype: "FP32", shape: [-1, 4] }] }),
    [{ name: "input", datatype: "FP32", shape: [-1, 4] }],
  );
  assert.deepEqual(
    inputsOf({ inputs: [{ name: "x", datatype: "FP32", shape: ["batch", 2] }] })[0]!.shape,
    [-1, 2],
  );
  assert.throws(() => inputsOf({ error: "nope" }), /no inputs list/);
  assert.throws(() => inputsOf({ inputs: [{ name: "x" }] }), /without name, datatype and shape/);
});

test("recordedRequests: v2 bodies and InferenceEvents' requests; lines without one skipped; none at all is an error", () => {
  const body = { inputs: [{ name: "input", datatype: "FP32", shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }] };
  const event = { specversion: "1.0", id: "e-1", data: { request: { id: "r", ...body }, response: {} } };
  const truncated = { specversion: "1.0", id: "e-2", data: { truncated: true } };
  const text = [JSON.stringify(body), "", JSON.stringify(truncated), JSON.stringify(event)].join("\n");
  assert.deepEqual(recordedRequests(text), [JSON.stringify(body), JSON.stringify(body)]);
  assert.throws(
    () => recordedRequests(JSON.stringify(truncated)),
    /no request found: .* the first line is \{"specversion"/,
  );
  assert.throws(() => recordedRequests("{oops"), /line 1 is not JSON/);
});

test("residentBytes: the model server's process metric, with or without labels", () => {
  const exposition = [
    "# HELP modelship_process_process_resident_memory_bytes Resident memory size in bytes.",
    "# TYPE modelship_process_process_resident_memory_bytes gauge",
    'modelship_process_process_resident_memory_bytes{component="serve"} 158048256',
  ].join("\n");
  assert.equal(residentBytes(exposition), 158048256);
  assert.equal(residentBytes("modelship_process_process_resident_memory_bytes 1024\n"), 1024);
  assert.equal(residentBytes("modelship_process_process_resident_memory_bytes_total 1\n"), undefined);
  assert.equal(residentBytes("other 1\n"), undefined);
});
