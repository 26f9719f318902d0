import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import * as prettier from "prettier";
import { renderEventJsonSchema } from "./json-schema.js";

const FILE = "docs/inference-event.schema.json";

test(`${FILE} is what the zod schema generates (npm run schema:events)`, async () => {
  const options = (await prettier.resolveConfig(FILE)) ?? {};
  const want = await prettier.format(renderEventJsonSchema(), { ...options, filepath: FILE });
  assert.equal(readFileSync(FILE, "utf8"), want, `${FILE} is stale: run npm run schema:events`);
});

test("the JSON Schema describes both event types by their type constant", () => {
  const schema = JSON.parse(renderEventJsonSchema()) as {
    oneOf: { properties: { type: { const: string } } }[];
  };
  assert.deepEqual(
    schema.oneOf.map((s) => s.properties.type.const),
    ["io.modelship.inference.v1", "io.modelship.feedback.v1"],
  );
});
