import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { AnalysisTemplate } from "../api/v1alpha1/index.js";
import { canaryMD } from "../rollout/testing/sim.js";
import { measureTemplates, windowFor } from "./measure.js";
import { PrometheusClient, PrometheusError } from "./prometheus.js";
import { defaultSelectorConfig, templateQuery } from "./promql.js";

const t = (x: Record<string, unknown>) => AnalysisTemplate.parse({ name: "t", max: 1, ...x });
const cfg = { ...defaultSelectorConfig, window: "2m", matchers: { namespace: "payments" } };

test("PromQL per built-in metric, selected by revision", () => {
  assert.equal(
    templateQuery(t({ metric: "errorRate" }), "abc", cfg),
    '(sum(rate(modelship_inference_requests_total{namespace="payments",modelship_io_revision="abc",code=~"5.."}[2m])) or ((sum(rate(modelship_logger_requests_total{namespace="payments",modelship_io_revision="abc",kind="infer",code=~"5.."}[2m])) or vector(0)) + (sum(rate(modelship_fallback_total{namespace="payments",modelship_io_revision="abc"}[2m])) or vector(0)))) / (sum(rate(modelship_inference_requests_total{namespace="payments",modelship_io_revision="abc"}[2m])) or sum(rate(modelship_logger_requests_total{namespace="payments",modelship_io_revision="abc",kind="infer"}[2m])))',
  );
  assert.equal(
    templateQuery(t({ metric: "latencyP99" }), "abc", cfg),
    'histogram_quantile(0.99, sum by (le) (rate(modelship_inference_request_duration_seconds_bucket{namespace="payments",modelship_io_revision="abc"}[2m])) or sum by (le) (rate(modelship_logger_request_duration_seconds_bucket{namespace="payments",modelship_io_revision="abc",kind="infer"}[2m])))',
  );
  assert.equal(
    templateQuery(t({ metric: "fallbackRate" }), "abc", cfg),
    '(sum(rate(modelship_fallback_total{namespace="payments",modelship_io_revision="abc"}[2m])) or vector(0)) / (sum(rate(modelship_inference_requests_total{namespace="payments",modelship_io_revision="abc"}[2m])) or sum(rate(modelship_logger_requests_total{namespace="payments",modelship_io_revision="abc",kind="infer"}[2m])))',
  );
  assert.equal(
    templateQuery(
      t({ metric: "custom", query: 'max(x{rev="{{revision}}"}) + max(y{rev="{{revision}}"})' }),
      "abc",
      cfg,
    ),
    'max(x{rev="abc"}) + max(y{rev="abc"})',
  );
  assert.equal(templateQuery(t({ metric: "driftScore" }), "abc", cfg), undefined);
  // label values are escaped as PromQL strings
  assert.match(templateQuery(t({ metric: "latencyP50" }), 'a"b', cfg)!, /modelship_io_revision="a\\"b"/);
});

test("the rate window is the template interval, never below the minimum", () => {
  assert.equal(windowFor("30s", "1m"), "1m");
  assert.equal(windowFor("5m", "1m"), "5m");
  assert.equal(windowFor("90s", "1m"), "90s");
});

// Fault injection only: a server that answers the way a broken or odd Prometheus would.
let server: Server;
let url = "";
const answers: Record<string, { status: number; body: string }> = {
  one: {
    status: 200,
    body: JSON.stringify({
      status: "success",
      data: { resultType: "vector", result: [{ metric: {}, value: [1, "0.25"] }] },
    }),
  },
  none: {
    status: 200,
    body: JSON.stringify({ status: "success", data: { resultType: "vector", result: [] } }),
  },
  nan: {
    status: 200,
    body: JSON.stringify({
      status: "success",
      data: { resultType: "vector", result: [{ metric: {}, value: [1, "NaN"] }] },
    }),
  },
  scalar: {
    status: 200,
    body: JSON.stringify({ status: "success", data: { resultType: "scalar", result: [1, "3"] } }),
  },
  two: {
    status: 200,
    body: JSON.stringify({
      status: "success",
      data: {
        resultType: "vector",
        result: [
          { metric: { a: "1" }, value: [1, "1"] },
          { metric: { a: "2" }, value: [1, "2"] },
        ],
      },
    }),
  },
  bad: {
    status: 400,
    body: JSON.stringify({ status: "error", errorType: "bad_data", error: "parse error" }),
  },
  html: { status: 502, body: "<html>Bad Gateway</html>" },
};
before(async () => {
  server = createServer((req, res) => {
    const q = new URL(req.url ?? "/", "http://x").searchParams.get("query") ?? "";
    const a = answers[q] ?? answers.none!;
    res.writeHead(a.status, { "content-type": "application/json" }).end(a.body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((r) => server.close(() => r())));

test("PrometheusClient: one number, no data, and every way a query can go wrong", async () => {
  const c = new PrometheusClient({ url, timeoutMs: 30_000 });
  assert.equal(await c.queryNumber("one"), 0.25);
  assert.equal(await c.queryNumber("scalar"), 3);
  assert.equal(await c.queryNumber("none"), undefined);
  assert.equal(await c.queryNumber("nan"), undefined);
  await assert.rejects(
    c.queryNumber("two"),
    (e: Error) => e instanceof PrometheusError && /2 series, want one/.test(e.message),
  );
  await assert.rejects(c.queryNumber("bad"), /bad_data.*parse error/);
  await assert.rejects(c.queryNumber("html"), /502 with a body that is not JSON/);
  const closed = new PrometheusClient({ url: "http://127.0.0.1:1", timeoutMs: 30_000 });
  await assert.rejects(closed.queryNumber("one"), /did not answer/);
});

test("driftScore: the drift job's latest score, only from a run since the analysis began", async () => {
  const md = canaryMD(
    [{ analysis: { templates: ["drift"] } }],
    {},
    { analysis: [{ name: "drift", metric: "driftScore", max: 0.2 }] },
  );
  const c = new PrometheusClient({ url: "http://127.0.0.1:1" }); // never asked: no query for driftScore
  const measure = () =>
    measureTemplates(
      c,
      { md, templates: ["drift"], candidate: "abc", now: new Date("2026-01-01T01:00:00Z") },
      cfg,
    );
  md.status = {
    drift: { verdict: "drift", score: 0.4, lastRun: "2026-01-01T00:30:00Z" },
    rollout: { analysis: { step: 0, startedAt: "2026-01-01T00:00:00Z", results: [] } },
  };
  assert.equal((await measure()).measurements[0]!.value, 0.4);
  md.status.rollout = { analysis: { step: 0, startedAt: "2026-01-01T00:45:00Z", results: [] } };
  const stale = await measure();
  assert.equal(stale.measurements[0]!.value, undefined, "a run from before the analysis is about stable");
  assert.deepEqual(stale.errors, []);
});
