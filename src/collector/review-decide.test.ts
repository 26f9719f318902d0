import assert from "node:assert/strict";
import { test } from "node:test";
import { claimItems, evictionCandidate, itemState, labelRefusal, type ReviewItem } from "./review-decide.js";

const t0 = new Date("2026-01-01T00:00:00Z");
const at = (s: number) => new Date(t0.getTime() + s * 1000);

function item(id: string, p: number, queuedS: number, extra: Partial<ReviewItem> = {}): ReviewItem {
  return {
    eventId: id,
    model: "iris",
    source: "modelship/ns/iris/r1",
    revision: "r1",
    time: t0.toISOString(),
    queuedAt: at(queuedS).toISOString(),
    topProbability: p,
    threshold: 0.6,
    rows: [0],
    ...extra,
  };
}

test("itemState: a claim holds until its expiry, then the item is pending again; a label is final", () => {
  const claimed = item("a", 0.5, 0, { claim: { reviewer: "ana", until: at(60).toISOString() } });
  assert.equal(itemState(claimed, at(59)), "claimed");
  assert.equal(itemState(claimed, at(60)), "pending", "a crashed reviewer's item comes back");
  const labeled = item("b", 0.5, 0, {
    label: { value: 1, reviewer: "ana", at: t0.toISOString(), feedbackId: "f" },
  });
  assert.equal(itemState(labeled, at(1e6)), "labeled");
});

test("claimItems: lowest confidence first, then oldest; expired claims are taken, live ones are not", () => {
  const items = [
    item("old-sure", 0.55, 0),
    item("new-unsure", 0.4, 10),
    item("old-unsure", 0.4, 5),
    item("taken", 0.3, 0, { claim: { reviewer: "bo", until: at(100).toISOString() } }),
    item("expired", 0.35, 0, { claim: { reviewer: "bo", until: at(10).toISOString() } }),
  ];
  const got = claimItems(items, "ana", 3, at(20), 900_000);
  assert.deepEqual(
    got.map((i) => i.eventId),
    ["expired", "old-unsure", "new-unsure"],
  );
  for (const i of got) assert.deepEqual(i.claim, { reviewer: "ana", until: at(920).toISOString() });
  assert.deepEqual(
    claimItems(items, "cy", 10, at(20), 1000).map((i) => i.eventId),
    ["old-sure"],
  );
});

test("labelRefusal: another reviewer's live claim refuses; the same label again is accepted, a different one not", () => {
  const claimed = item("a", 0.5, 0, { claim: { reviewer: "bo", until: at(60).toISOString() } });
  assert.match(labelRefusal(claimed, "ana", 1, at(1))!.error, /claimed by bo until/);
  assert.equal(labelRefusal(claimed, "bo", 1, at(1)), undefined);
  assert.equal(labelRefusal(claimed, "ana", 1, at(61)), undefined, "expired claim");
  assert.equal(labelRefusal(item("b", 0.5, 0), "ana", "setosa", at(1)), undefined, "no claim needed");
  const labeled = item("c", 0.5, 0, {
    label: { value: 2, reviewer: "bo", at: t0.toISOString(), feedbackId: "f" },
  });
  assert.equal(labelRefusal(labeled, "ana", 2, at(1)), undefined);
  assert.match(labelRefusal(labeled, "ana", 1, at(1))!.error, /labeled 2 by bo already/);
});

test("evictionCandidate: the oldest labeled item, else the oldest pending; never a claimed one", () => {
  const claim = { reviewer: "bo", until: at(100).toISOString() };
  const label = { value: 1, reviewer: "bo", at: t0.toISOString(), feedbackId: "f" };
  assert.equal(
    evictionCandidate([item("p1", 0.5, 1), item("l", 0.5, 5, { label }), item("p0", 0.5, 0)], at(1))?.eventId,
    "l",
  );
  assert.equal(
    evictionCandidate([item("p1", 0.5, 1), item("c", 0.5, 0, { claim }), item("p0", 0.5, 0.5)], at(1))
      ?.eventId,
    "p0",
  );
  assert.equal(evictionCandidate([item("c", 0.5, 0, { claim })], at(1)), undefined);
});
