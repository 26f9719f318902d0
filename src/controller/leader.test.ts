import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { test } from "node:test";
import { sleep } from "./leader.js";

test("the renewal wait leaves no abort listener behind (the controller's signal lives for days)", async () => {
  const stop = new AbortController();
  for (let i = 0; i < 20; i++) await sleep(1, stop.signal);
  assert.equal(getEventListeners(stop.signal, "abort").length, 0);
  const waiting = sleep(60_000, stop.signal);
  assert.equal(getEventListeners(stop.signal, "abort").length, 1);
  stop.abort();
  await waiting; // resolves at once on abort
});
