import assert from "node:assert/strict";
import { test } from "node:test";
import { variantOf } from "./variant.js";

test("a Host with the -shadow suffix RequestMirror adds is a shadow request; otherwise --variant", () => {
  const cases: [string[], string][] = [
    [["host", "fraud.risk.svc-shadow:8080"], "shadow"],
    [["host", "fraud-shadow"], "shadow"],
    [["host", "[::1]-shadow:80"], "shadow"],
    [["host", "fraud.risk.svc:8080"], "canary"],
    [["host", "shadow.example:80"], "canary"],
    [[], "canary"],
  ];
  for (const [headers, want] of cases) assert.equal(variantOf(headers, "canary"), want, headers.join(" "));
});
