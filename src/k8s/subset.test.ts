import assert from "node:assert/strict";
import { test } from "node:test";
import { isSubset } from "./subset.js";

test("isSubset: server defaults and extra fields are ignored; changes and removals are not", () => {
  const desired = {
    spec: { replicas: 2, template: { containers: [{ name: "a", ports: [{ containerPort: 80 }] }] } },
  };
  const live = {
    metadata: { uid: "x" },
    spec: {
      replicas: 2,
      template: {
        containers: [
          {
            name: "a",
            ports: [{ containerPort: 80, protocol: "TCP" }],
            terminationMessagePath: "/dev/termination-log",
          },
        ],
      },
    },
    status: { readyReplicas: 2 },
  };
  assert.equal(isSubset(desired, live), true);
  assert.equal(isSubset({ spec: { replicas: 3 } }, live), false, "changed scalar");
  assert.equal(isSubset({ spec: { template: { containers: [] } } }, live), false, "list length differs");
  assert.equal(isSubset({ spec: { paused: true } }, live), false, "field missing in live");
  assert.equal(isSubset({ a: "1" }, { a: 1 }), true, "int-or-string forms");
  assert.equal(isSubset({ a: { b: 1 } }, { a: [1] }), false);
});
