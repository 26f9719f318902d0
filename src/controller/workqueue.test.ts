import assert from "node:assert/strict";
import { test } from "node:test";
import { WorkQueue } from "./workqueue.js";

test("a key is queued once however many times it is added", async () => {
  const q = new WorkQueue({ baseDelayMs: 10, maxDelayMs: 100 });
  q.add("ns/a");
  q.add("ns/a");
  q.add("ns/b");
  assert.equal(q.length, 2);
  assert.equal(await q.get(), "ns/a");
  assert.equal(await q.get(), "ns/b");
});

test("a key added while processing is handed out again only after done", async () => {
  const q = new WorkQueue({ baseDelayMs: 10, maxDelayMs: 100 });
  q.add("k");
  const k = await q.get();
  q.add("k");
  assert.equal(q.length, 0, "not handed to a second worker while the first holds it");
  q.done(k!);
  assert.equal(q.length, 1);
  assert.equal(await q.get(), "k");
});

test("failures back off exponentially per key, capped; forget resets", () => {
  const q = new WorkQueue({ baseDelayMs: 100, maxDelayMs: 1000 });
  assert.deepEqual(
    [1, 2, 3, 4, 5].map(() => q.addRateLimited("k")),
    [100, 200, 400, 800, 1000],
  );
  assert.equal(q.addRateLimited("other"), 100, "per key");
  q.forget("k");
  assert.equal(q.addRateLimited("k"), 100);
  q.shutDown();
});

test("addAfter keeps the earliest scheduled visit and delivers it", async () => {
  const q = new WorkQueue({ baseDelayMs: 10, maxDelayMs: 100 });
  q.addAfter("k", 5_000);
  q.addAfter("k", 20);
  // The queue's timers are unref'd (they never hold a process open); hold this test's loop open ourselves.
  const keepAlive = setTimeout(() => {}, 10_000);
  const got = await q.get();
  clearTimeout(keepAlive);
  assert.equal(got, "k");
  q.shutDown();
});

test("shutDown releases waiting workers", async () => {
  const q = new WorkQueue({ baseDelayMs: 10, maxDelayMs: 100 });
  const waiting = q.get();
  q.shutDown();
  assert.equal(await waiting, undefined);
});
