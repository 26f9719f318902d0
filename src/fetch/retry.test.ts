import { test } from "node:test";
import assert from "node:assert/strict";
import { backoffMs, isRetryableStatus, PermanentError, withRetry } from "./retry.js";

test("backoff doubles, stays within [cap/2, cap] and is capped", () => {
  assert.equal(
    backoffMs(1, 100, 10_000, () => 0),
    50,
  );
  assert.equal(
    backoffMs(1, 100, 10_000, () => 1),
    100,
  );
  assert.equal(
    backoffMs(3, 100, 10_000, () => 1),
    400,
  );
  assert.equal(
    backoffMs(20, 100, 1_000, () => 1),
    1_000,
  );
});

test("retryable statuses", () => {
  for (const s of [408, 429, 500, 502, 503]) assert.equal(isRetryableStatus(s), true, String(s));
  for (const s of [400, 401, 403, 404]) assert.equal(isRetryableStatus(s), false, String(s));
});

test("withRetry retries transient errors and stops at permanent ones", async () => {
  const slept: number[] = [];
  const sleep = async (ms: number) => void slept.push(ms);
  let calls = 0;
  const v = await withRetry(
    async () => {
      if (++calls < 3) throw new Error("flaky");
      return "ok";
    },
    { attempts: 5, baseMs: 10, maxMs: 100, sleep },
  );
  assert.equal(v, "ok");
  assert.equal(calls, 3);
  assert.equal(slept.length, 2);

  calls = 0;
  await assert.rejects(
    withRetry(
      async () => {
        calls++;
        throw new PermanentError("404");
      },
      { attempts: 5, baseMs: 10, maxMs: 100, sleep },
    ),
    /404/,
  );
  assert.equal(calls, 1);

  calls = 0;
  await assert.rejects(
    withRetry(
      async () => {
        calls++;
        throw new Error("down");
      },
      { attempts: 3, baseMs: 1, maxMs: 1, sleep },
    ),
    /down/,
  );
  assert.equal(calls, 3);
});
