import assert from "node:assert/strict";
import { test } from "node:test";
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
  for (const [host, want] of cases) assert.equal(variantOf(host, "canary"), want, String(host));
});
