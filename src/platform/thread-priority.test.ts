import { test } from "node:test";
import assert from "node:assert/strict";
import { threadIdFromLink } from "./thread-priority.js";

test("the thread id is read from a /proc/thread-self link target", () => {
  assert.equal(threadIdFromLink("4242/task/4250"), 4250);
  assert.equal(threadIdFromLink("4242"), undefined);
  assert.equal(threadIdFromLink("/proc/4242/task/x"), undefined);
});
