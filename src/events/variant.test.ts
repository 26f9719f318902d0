import assert from "node:assert/strict";
import { test } from "node:test";
import { SHADOW_HEADER } from "./constants.js";
import { variantOf } from "./variant.js";

test("a Host with the -shadow suffix RequestMirror adds is a shadow request; otherwise --variant", () => {
  const cases: [string | undefined, string][] = [
    ["fraud.risk.svc-shadow:8080", "shadow"],
    ["fraud-shadow", "shadow"],
    ["[::1]-shadow:80", "shadow"],
    ["fraud.risk.svc:8080", "canary"],
    ["shadow.example:80", "canary"],
    [undefined, "canary"],
  ];
  for (const [host, want] of cases)
    assert.equal(variantOf(host === undefined ? {} : { host }, "canary"), want, String(host));
});

test("a copy from modelship's own mirror (x-modelship-shadow-of) is a shadow request", () => {
  assert.equal(variantOf({ host: "fraud.risk.svc:8080", [SHADOW_HEADER]: "e-1" }, "canary"), "shadow");
  assert.equal(variantOf({ [SHADOW_HEADER]: "-" }, "stable"), "shadow");
});
