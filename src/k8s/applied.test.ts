import assert from "node:assert/strict";
import { test } from "node:test";
import { APPLIED_HASH_ANNOTATION, isApplied, withAppliedHash } from "./applied.js";

const svc = (selector: Record<string, string>) => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: { name: "iris", namespace: "ns", annotations: { a: "1" } as Record<string, string> },
  spec: { selector },
});

test("Given a render applied before, Then the same render is up to date and server defaults do not matter", () => {
  const desired = withAppliedHash(svc({ app: "iris" }));
  assert.match(desired.metadata.annotations[APPLIED_HASH_ANNOTATION]!, /^[0-9a-f]{16}$/);
  assert.equal(desired.metadata.annotations.a, "1");
  const live = { ...desired, spec: { ...desired.spec, clusterIP: "10.0.0.1", type: "ClusterIP" } };
  assert.equal(isApplied(withAppliedHash(svc({ app: "iris" })), live), true);
});

test("Given a render that drops a selector key, Then it is applied although the live map holds every desired key", () => {
  const live = withAppliedHash(svc({ app: "iris", revision: "r1" }));
  const next = withAppliedHash(svc({ app: "iris" }));
  assert.equal(isApplied(next, live), false);
});

test("Given a live object changed by someone else, or never annotated, Then it is applied again", () => {
  const desired = withAppliedHash(svc({ app: "iris" }));
  assert.equal(isApplied(desired, { ...desired, spec: { selector: { app: "other" } } }), false);
  assert.equal(isApplied(desired, svc({ app: "iris" })), false);
});
