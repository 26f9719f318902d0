// The load test against real model servers: `modelship serve` processes on loopback with real ONNX models
// in onnxruntime, loaded by the open-loop generator over real HTTP, their memory read from their own /metrics.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { createLogger } from "../platform/log.js";
import { irisModel } from "../testing/onnx/iris.js";
import { slowModel, tempDir, writeModel } from "../testing/onnx/builders.js";
import { startCli, startServe, type Cli } from "../testing/procs.js";
import { runLoad } from "./generator.js";
import { runLoadTest, waitReady } from "./run.js";

const dir = tempDir("modelship-loadtest-");
const log = createLogger({ name: "loadtest-test", level: "silent" });
let iris: { cli: Cli; url: string };
let slow: { cli: Cli; url: string };

before(async () => {
  [iris, slow] = await Promise.all([
    startServe([`iris=${writeModel(irisModel(), dir, "iris.onnx")}@1`]),
    startServe([`slow=${writeModel(slowModel({ dim: 256, depth: 512 }), dir, "slow.onnx")}@1`], undefined, [
      "--request-timeout-ms",
      "60000",
    ]),
  ]);
});

after(async () => {
  await Promise.all([iris?.cli.stop(), slow?.cli.stop()]);
});

const irisBody = JSON.stringify({
  inputs: [{ name: "input", datatype: "FP32", shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }],
});

test("runLoad: rate x duration requests on schedule, every one answered and timed", async () => {
  const started = Date.now();
  const o = await runLoad({
    url: `${iris.url}/v2/models/iris/infer`,
    rate: 40,
    durationMs: 1000,
    timeoutMs: 5000,
    body: () => irisBody,
  });
  assert.equal(o.requests, 40);
  assert.equal(o.errors, 0, JSON.stringify(o.errorKinds));
  assert.equal(o.latenciesMs.length, 40);
  assert.ok(o.latenciesMs.every((ms) => ms > 0));
  // open loop: the last request left about 975 ms after the first, not after 40 round trips
  assert.ok(Date.now() - started >= 950);
});

test("runLoad: answers other than 2xx and requests over the timeout count as errors, by kind", async () => {
  const missing = await runLoad({
    url: `${iris.url}/v2/models/nope/infer`,
    rate: 20,
    durationMs: 500,
    timeoutMs: 5000,
    body: () => irisBody,
  });
  assert.deepEqual([missing.requests, missing.errors, missing.errorKinds], [10, 10, { "404": 10 }]);
  assert.equal(missing.latenciesMs.length, 0);

  // 256 rows x 512 MatMuls of 256 x 256 (8.6 GFLOP): about 50 ms here with onnxruntime's threads, so a
  // 10 ms timeout always fires (one row through 64 MatMuls took 0.3 ms, and the test failed on a quiet CI)
  const rows = 256;
  const body = JSON.stringify({
    inputs: [
      {
        name: "x",
        datatype: "FP32",
        shape: [rows, 256],
        data: Array.from({ length: rows * 256 }, () => 0.5),
      },
    ],
  });
  const timedOut = await runLoad({
    url: `${slow.url}/v2/models/slow/infer`,
    rate: 20,
    durationMs: 250,
    timeoutMs: 10,
    body: () => body,
  });
  assert.equal(timedOut.requests, 5);
  assert.ok((timedOut.errorKinds.timeout ?? 0) >= 1, JSON.stringify(timedOut.errorKinds));
});

test("runLoadTest: synthetic requests from the model's metadata, both sides measured alike, memory from /metrics", async () => {
  const side = { url: iris.url, metricsUrls: async () => [`${iris.url}/metrics`] };
  const r = await runLoadTest(
    {
      model: "iris",
      rate: 25,
      durationMs: 1000,
      timeoutMs: 5000,
      payload: { synthetic: { batchSize: 3 } },
      thresholds: { maxErrorRate: 0, maxMemoryMiB: 4096, maxP99RatioToStable: 1000 },
      candidate: side,
      stable: side,
      sampleMs: 200,
    },
    log,
  );
  assert.equal(r.verdict, "Passed", r.message);
  for (const f of [r.candidate, r.stable!]) {
    assert.equal(f.requests, 25);
    assert.equal(f.errors, 0);
    assert.ok(f.p50Ms! > 0 && f.p99Ms! >= f.p50Ms!);
    assert.equal(f.pods, 1);
    assert.ok(f.memoryMiB! > 20 && f.memoryMiB! < 4096, `the server's resident memory: ${f.memoryMiB} MiB`);
  }

  const tight = await runLoadTest(
    {
      model: "iris",
      rate: 10,
      durationMs: 500,
      timeoutMs: 5000,
      payload: { synthetic: { batchSize: 1 } },
      thresholds: { maxMemoryMiB: 1 },
      candidate: side,
      stable: side,
    },
    log,
  );
  assert.equal(tight.verdict, "Failed");
  assert.match(tight.message, /^candidate memory [0-9.]+ MiB > maxMemoryMiB 1$/);
  assert.equal(tight.stable, undefined, "no ratio threshold: stable is not loaded");
});

test("modelship loadtest: recorded requests from a file, the verdict in the exit code and the JSON", async () => {
  const payload = join(dir, "recorded.ndjson");
  const event = { specversion: "1.0", id: "e-1", data: { request: JSON.parse(irisBody) } };
  writeFileSync(payload, `${irisBody}\n${JSON.stringify(event)}\n`);
  const run = async (...thresholds: string[]) => {
    const out = join(dir, `out-${thresholds.join("")}.json`);
    const cli = startCli([
      "loadtest",
      "--url",
      iris.url,
      "--model",
      "iris",
      "--rate",
      "20",
      "--duration",
      "1s",
      "--payload",
      payload,
      "--metrics",
      `${iris.url}/metrics`,
      "--out",
      out,
      ...thresholds,
    ]);
    const code = await cli.exited;
    return { code, result: JSON.parse(readFileSync(out, "utf8")), stdout: cli.stdout.join("\n") };
  };
  const passed = await run("--max-error-rate", "0");
  assert.equal(passed.code, 0, passed.stdout);
  assert.equal(passed.result.phase, "Completed");
  assert.equal(passed.result.verdict, "Passed");
  assert.equal(passed.result.candidate.requests, 20);
  assert.equal(passed.result.candidate.errors, 0);
  assert.match(passed.stdout, /^loadTest Passed: candidate p50 /);

  const failed = await run("--max-p99-ms", "0.001");
  assert.equal(failed.code, 3);
  assert.equal(failed.result.verdict, "Failed");
  assert.match(failed.result.message, /^candidate p99 [0-9.]+ ms > maxP99Ms 0\.001$/);
});

test("waitReady: returns once the Service answers ready; names the URL when it never does", async () => {
  await waitReady(iris.url, 5000);
  await assert.rejects(
    waitReady("http://127.0.0.1:9", 1500),
    /^Error: http:\/\/127\.0\.0\.1:9\/v2\/health\/ready did not answer 200 within 2s \(/,
  );
});
