import assert from "node:assert/strict";
import { test } from "node:test";
import { parseModelFeatures } from "./model-features.js";

test("--model-features gives each named model its own schema", () => {
  const m = parseModelFeatures(
    ['iris=[{"name":"petal_length","type":"numeric"}]', 'churn=[{"name":"plan","type":"categorical"}]'],
    ["iris", "churn", "other"],
  );
  assert.deepEqual(m.get("iris"), [{ name: "petal_length", type: "numeric" }]);
  assert.deepEqual(m.get("churn"), [{ name: "plan", type: "categorical" }]);
  assert.equal(m.has("other"), false, "the rest keep --features");
});

test("--model-features errors name the flag, the model and the fix", () => {
  assert.throws(() => parseModelFeatures(["[]"], ["a"]), /--model-features "\[\]" must look like NAME=JSON/);
  assert.throws(() => parseModelFeatures(["b=[]"], ["a"]), /--model-features b: no --model b is served/);
  assert.throws(() => parseModelFeatures(["a=[]", "a=[]"], ["a"]), /--model-features a is given twice/);
  assert.throws(() => parseModelFeatures(["a={"], ["a"]), /--model-features a: must be JSON/);
  assert.throws(
    () => parseModelFeatures(['a=[{"name":"x","type":"date"}]'], ["a"]),
    /--model-features a: 0\.type: must be one of/,
  );
});
