import assert from "node:assert/strict";
import { test } from "node:test";
import { buildFeedbackEvent } from "./build.js";
import { eventKeys, hoursBetween, partitionOf, safeSegment } from "./partition.js";

test("eventKeys reads our own lines quickly and any other JSON event by parsing", () => {
  const cfg = {
    model: "fraud",
    revision: "r",
    variant: "stable" as const,
    features: [],
    redact: [],
    headerAllowlist: [],
    maxPayloadBytes: 1,
    sampleRate: 1,
  };
  const own = JSON.stringify(
    buildFeedbackEvent("f1", new Date("2026-01-01T00:00:00Z"), { eventId: "e", groundTruth: 1 }, cfg),
  );
  assert.deepEqual(eventKeys(own), { id: "f1", model: "fraud", time: "2026-01-01T00:00:00.000Z" });
  const other = JSON.stringify({
    time: "2026-01-02T00:00:00Z",
    id: "x",
    data: { model: { name: 'we"ird' } },
  });
  assert.deepEqual(eventKeys(other), { id: "x", model: 'we"ird', time: "2026-01-02T00:00:00Z" });
  assert.equal(eventKeys("not json"), undefined);
  assert.equal(eventKeys('{"id":"x"}'), undefined);
});

test("partitions by the event's UTC hour; model names become one safe path segment", () => {
  assert.deepEqual(partitionOf("fraud", "2026-03-01T23:59:59+01:00"), {
    model: "fraud",
    date: "2026-03-01",
    hour: "22",
  });
  assert.equal(safeSegment("../etc"), ".._etc");
  assert.equal(safeSegment(".."), "_..");
  assert.deepEqual(hoursBetween(new Date("2026-03-01T22:30:00Z"), new Date("2026-03-02T00:00:01Z")), [
    { date: "2026-03-01", hour: "22" },
    { date: "2026-03-01", hour: "23" },
    { date: "2026-03-02", hour: "00" },
  ]);
});
