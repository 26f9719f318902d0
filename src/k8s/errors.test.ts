import assert from "node:assert/strict";
import { test } from "node:test";
import { ApiError, isRejectedObject } from "./errors.js";

const err = (code: number, message: string) => new ApiError(code, "X", message, "PATCH", "/apis/apps/v1/x");

test("objects the API server refuses as written are told apart from failures worth retrying", () => {
  assert.equal(isRejectedObject(err(422, "spec.replicas: Invalid value")), true);
  assert.equal(isRejectedObject(err(400, "bad request")), true);
  assert.equal(
    isRejectedObject(
      err(
        500,
        'failed to create typed patch object: .spec.template.spec.containers[name="model"].env: duplicate entries',
      ),
    ),
    true,
  );
  assert.equal(isRejectedObject(err(500, "etcdserver: request timed out")), false);
  assert.equal(isRejectedObject(err(409, "conflict")), false);
  assert.equal(isRejectedObject(err(429, "too many requests")), false);
  assert.equal(isRejectedObject(new Error("ECONNRESET")), false);
});
