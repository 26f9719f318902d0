import assert from "node:assert/strict";
import { test } from "node:test";
import { revisionSpecAnnotation } from "../render/workloads.js";
import { observeRevision } from "./revisions.js";

const deployment = {
  metadata: {
    name: "iris-abc",
    labels: { "modelship.io/revision": "abc" },
    annotations: { [revisionSpecAnnotation]: "{}" },
  },
  spec: { replicas: 1 },
  status: {},
};

test("a fetch init container that keeps failing: the failure carries its last words (both digests)", () => {
  const said =
    '{"level":"error","msg":"Rejected model: checksum mismatch"}\n' +
    "modelship fetch: sha256 mismatch for pvc://model-store/iris/model.onnx: expected " +
    `${"a".repeat(64)}, got ${"b".repeat(64)}\n`;
  const pod = {
    metadata: { name: "iris-abc-1" },
    status: {
      phase: "Pending",
      initContainerStatuses: [
        {
          name: "fetch",
          restartCount: 2,
          state: {
            waiting: { reason: "CrashLoopBackOff", message: "back-off 20s restarting failed container" },
          },
          lastState: { terminated: { exitCode: 1, message: said } },
        },
      ],
    },
  };
  const rev = observeRevision(deployment, [pod]);
  assert.equal(rev?.failed?.reason, "CrashLoopBackOff");
  assert.match(rev.failed.message, /^pod iris-abc-1 container fetch: modelship fetch: sha256 mismatch/);
  assert.match(rev.failed.message, new RegExp(`expected ${"a".repeat(64)}, got ${"b".repeat(64)}$`));
});

test("a crash without a termination message keeps the kubelet's own words", () => {
  const pod = {
    metadata: { name: "p" },
    status: {
      containerStatuses: [
        {
          name: "serve",
          restartCount: 1,
          state: { waiting: { reason: "CrashLoopBackOff", message: "back-off" } },
        },
      ],
    },
  };
  assert.equal(observeRevision(deployment, [pod])?.failed?.message, "pod p container serve: back-off");
});
