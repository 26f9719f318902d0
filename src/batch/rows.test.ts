import { test } from "node:test";
import assert from "node:assert/strict";
import type { Signature } from "../runtime/signature.js";
import { csvField, formatOf, parseCsvLine } from "./formats.js";
import { rowToInstance } from "./rows.js";

const single: Signature = { inputs: [{ name: "x", type: "float32", shape: [-1, 3] }], outputs: [] };
const multi: Signature = {
  inputs: [
    { name: "a", type: "int64", shape: [-1, 2] },
    { name: "b", type: "string", shape: [-1] },
  ],
  outputs: [],
};

test("rows map to instances by input name or by feature columns", () => {
  assert.deepEqual(rowToInstance({ id: 1, x: [1, 2, 3] }, single, "id"), [1, 2, 3]);
  assert.deepEqual(rowToInstance({ id: 1, f1: 1, f2: 2, f3: 3 }, single, "id"), [1, 2, 3]);
  assert.deepEqual(rowToInstance({ id: "7", f1: "1.5", f2: " 2 ", f3: "-3" }, single, "id"), [1.5, 2, -3]);
  assert.deepEqual(rowToInstance({ a: ["1", "2"], b: "12", id: 3 }, multi, "id"), { a: [1, 2], b: "12" });
  assert.throws(
    () => rowToInstance({ id: 1, f1: 1 }, single, "id"),
    /row has 1 feature fields besides "id", input "x" takes 3/,
  );
  assert.throws(() => rowToInstance({ a: [1, 2] }, multi, "id"), /row lacks the model inputs: "a", "b"/);
  // Non-numbers stay as they are, so the decoder rejects them naming the element.
  assert.deepEqual(rowToInstance({ f1: "", f2: "x", f3: "1" }, single, "id"), ["", "x", 1]);
});

test("CSV records and fields", () => {
  assert.deepEqual(parseCsvLine('1,"a,b","say ""hi""",'), ["1", "a,b", 'say "hi"', ""]);
  assert.throws(() => parseCsvLine('1,"open'), /unterminated/);
  assert.equal(csvField('a,"b"'), '"a,""b"""');
  assert.equal(csvField(1.5), "1.5");
  assert.equal(formatOf("s3://b/rows.csv"), "csv");
  assert.equal(formatOf("rows.jsonl"), "jsonl");
});
