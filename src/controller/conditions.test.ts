import assert from "node:assert/strict";
import { test } from "node:test";
import { mergeConditions } from "./conditions.js";

const t0 = "2026-01-01T00:00:00Z";
const t1 = "2026-01-01T00:05:00Z";

test("lastTransitionTime moves only when the status flips", () => {
  const first = mergeConditions(
    [],
    [{ type: "Ready", status: "False", reason: "ReplicasNotReady", message: "0/2" }],
    t0,
    1,
  );
  assert.equal(first[0]?.lastTransitionTime, t0);
  const sameStatus = mergeConditions(
    first,
    [{ type: "Ready", status: "False", reason: "ReplicasNotReady", message: "1/2" }],
    t1,
    1,
  );
  assert.equal(sameStatus[0]?.lastTransitionTime, t0, "same status keeps the time");
  assert.equal(sameStatus[0]?.message, "1/2", "message follows");
  const flipped = mergeConditions(
    sameStatus,
    [{ type: "Ready", status: "True", reason: "Available", message: "2/2" }],
    t1,
    2,
  );
  assert.equal(flipped[0]?.lastTransitionTime, t1);
  assert.equal(flipped[0]?.observedGeneration, 2);
});

test("conditions owned by other writers are kept", () => {
  const drift = {
    type: "DriftDetected",
    status: "True" as const,
    reason: "Drift",
    message: "psi",
    lastTransitionTime: t0,
  };
  const out = mergeConditions(
    [drift],
    [{ type: "Ready", status: "True", reason: "Available", message: "" }],
    t1,
    1,
  );
  assert.deepEqual(out.map((c) => c.type).sort(), ["DriftDetected", "Ready"]);
  assert.deepEqual(
    out.find((c) => c.type === "DriftDetected"),
    drift,
  );
});
