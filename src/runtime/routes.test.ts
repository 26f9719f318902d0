import { test } from "node:test";
import assert from "node:assert/strict";
import { matchRoute, type Route } from "./routes.js";

test("routes: method + path -> protocol operation", () => {
  const cases: [string, string, Route][] = [
    ["GET", "/v2/health/live", { kind: "live" }],
    ["HEAD", "/v2/health/ready", { kind: "ready" }],
    ["GET", "/v2", { kind: "server-metadata" }],
    ["GET", "/v2/", { kind: "server-metadata" }],
    ["GET", "/metrics", { kind: "metrics" }],
    ["GET", "/v2/models/mlp", { kind: "model-metadata", model: "mlp" }],
    ["GET", "/v2/models/mlp/versions/2", { kind: "model-metadata", model: "mlp", version: "2" }],
    ["GET", "/v2/models/mlp/ready", { kind: "model-ready", model: "mlp" }],
    ["POST", "/v2/models/mlp/infer", { kind: "infer", model: "mlp" }],
    ["POST", "/v2/models/mlp/versions/3/infer?x=1", { kind: "infer", model: "mlp", version: "3" }],
    ["GET", "/v2/models/mlp/config", { kind: "model-config", model: "mlp" }],
    ["GET", "/v2/models/mlp/versions/1/config", { kind: "model-config", model: "mlp", version: "1" }],
    ["GET", "/v2/models/mlp/stats", { kind: "model-stats", model: "mlp" }],
    ["GET", "/v2/models/mlp/versions/1/stats", { kind: "model-stats", model: "mlp", version: "1" }],
    ["POST", "/v2/repository/index", { kind: "repository-index" }],
    ["POST", "/v2/feedback", { kind: "feedback" }],
    ["GET", "/v2/feedback", { kind: "method-not-allowed", allow: "POST" }],
    ["GET", "/v2/models/a%20b", { kind: "model-metadata", model: "a b" }],
    ["POST", "/v1/models/mlp:predict", { kind: "v1-predict", model: "mlp" }],
    ["GET", "/v1/models/mlp", { kind: "v1-model", model: "mlp" }],
    // Wrong methods name the right one; unknown paths and bad escapes are not found.
    ["GET", "/v2/models/mlp/infer", { kind: "method-not-allowed", allow: "POST" }],
    ["POST", "/v2/models/mlp/config", { kind: "method-not-allowed", allow: "GET" }],
    ["POST", "/v2/models/mlp/stats", { kind: "method-not-allowed", allow: "GET" }],
    ["GET", "/v2/repository/index", { kind: "method-not-allowed", allow: "POST" }],
    ["GET", "/v2/models/mlp/unload", { kind: "not-found" }],
    ["GET", "/v2/models/%E0%A4%A", { kind: "not-found" }],
    ["GET", "/nothing", { kind: "not-found" }],
  ];
  for (const [method, url, want] of cases)
    assert.deepEqual(matchRoute(method, url), want, `${method} ${url}`);
});
