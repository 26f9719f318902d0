import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { credentials, Metadata, status, type Client, type ServiceError } from "@grpc/grpc-js";
import { createLogger } from "../platform/log.js";
import { createRegistry } from "../platform/metrics.js";
import { identityModel, seededRandom, slowModel, tempDir, writeModel } from "../testing/onnx/builders.js";
import { irisCentroids, irisModel } from "../testing/onnx/iris.js";
import type { OnnxDtype } from "../testing/onnx/model.js";
import { toHalf } from "./datatypes.js";
import { GrpcInferenceServer, inferenceService } from "./grpc-server.js";
import type { ModelSpec } from "./model-spec.js";
import { ModelServer, type ServeOptions } from "./server.js";

// A real ModelServer with its gRPC front end, a real @grpc/grpc-js client on the same .proto.

const dir = tempDir("modelship-grpc-");
const silent = createLogger({ name: "serve", level: "silent" });

interface Running {
  server: ModelServer;
  grpc: GrpcInferenceServer;
  client: Client;
}

async function start(
  models: ModelSpec[],
  overrides: Partial<ServeOptions> = {},
  load = true,
): Promise<Running> {
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
    log: silent,
    registry: createRegistry("serve", { defaultMetrics: false }),
    ...overrides,
  });
  const grpc = new GrpcInferenceServer(server, {
    host: "127.0.0.1",
    port: 0,
    maxMessageBytes: overrides.maxBodyBytes ?? 1 << 20,
    log: silent,
  });
  server.attach(grpc);
  await server.listen();
  await grpc.listen();
  if (load) await server.load();
  const Service = inferenceService();
  const client = new Service(grpc.url, credentials.createInsecure());
  return { server, grpc, client };
}

async function stop(r: Running): Promise<void> {
  r.client.close();
  await r.server.close();
}

type Obj = Record<string, any>;

/** One unary call; rejects with the ServiceError (code, details). */
function call(client: Client, method: string, req: Obj, deadlineMs?: number): Promise<Obj> {
  return new Promise((resolve, reject) => {
    const options = deadlineMs === undefined ? {} : { deadline: Date.now() + deadlineMs };
    (client as any)[method](req, new Metadata(), options, (err: ServiceError | null, res: Obj) =>
      err ? reject(err) : resolve(res),
    );
  });
}

async function rejectsWith(p: Promise<unknown>, code: status, details: RegExp): Promise<void> {
  await assert.rejects(p, (err: ServiceError) => {
    assert.equal(err.code, code, `${status[err.code]}: ${err.details}`);
    assert.match(err.details, details);
    return true;
  });
}

async function postJson(url: string, body: unknown): Promise<Obj> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 200);
  return (await res.json()) as Obj;
}

const bytesOf = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** BYTES elements as raw contents: a 4-byte little-endian length before each. */
function bytesTensor(values: string[]): Buffer {
  return Buffer.concat(
    values.flatMap((v) => {
      const b = Buffer.from(v, "utf8");
      const len = Buffer.alloc(4);
      len.writeUInt32LE(b.length);
      return [len, b];
    }),
  );
}

describe("gRPC: iris over GRPCInferenceService", () => {
  let r: Running;
  before(async () => {
    r = await start([{ name: "iris", version: "1", path: writeModel(irisModel(), dir, "iris.onnx") }]);
  });
  after(() => stop(r));

  // The class means and some seeded flowers around them, as float32 rows.
  const rand = seededRandom(15);
  const rows = [
    ...irisCentroids.map((c) => [...c]),
    ...Array.from({ length: 5 }, () => irisCentroids[0]!.map((m) => m + 3 * rand() - 1)),
  ].map((row) => row.map(Math.fround));
  const flat = Float32Array.from(rows.flat());

  test("live, ready and metadata answer as the HTTP routes do", async () => {
    assert.deepEqual(await call(r.client, "ServerLive", {}), { live: true });
    assert.deepEqual(await call(r.client, "ServerReady", {}), { ready: true });
    const meta = await call(r.client, "ServerMetadata", {});
    assert.equal(meta.name, "modelship");
    assert.deepEqual(meta.extensions, []);
    assert.deepEqual(await call(r.client, "ModelReady", { name: "iris" }), { ready: true });
    assert.deepEqual(await call(r.client, "ModelReady", { name: "iris", version: "1" }), { ready: true });

    const grpcMeta = await call(r.client, "ModelMetadata", { name: "iris" });
    const httpMeta = (await (await fetch(`${r.server.url}/v2/models/iris`)).json()) as Obj;
    // The same document, less HTTP's "parameters" (the message has no such field); shapes are int64 strings.
    const asHttp = (ts: Obj[]) => ts.map((t) => ({ ...t, shape: t.shape.map(Number) }));
    const { parameters: _parameters, ...httpRest } = httpMeta;
    assert.deepEqual(
      { ...grpcMeta, inputs: asHttp(grpcMeta.inputs), outputs: asHttp(grpcMeta.outputs) },
      httpRest,
    );
    assert.deepEqual(asHttp(grpcMeta.inputs), [{ name: "input", datatype: "FP32", shape: [-1, 4] }]);
  });

  test("raw contents in, raw contents out: bit-identical to the HTTP JSON path", async () => {
    const http = await postJson(`${r.server.url}/v2/models/iris/infer`, {
      inputs: [{ name: "input", datatype: "FP32", shape: [rows.length, 4], data: rows }],
    });
    const res = await call(r.client, "ModelInfer", {
      model_name: "iris",
      id: "req-7",
      inputs: [{ name: "input", datatype: "FP32", shape: [rows.length, 4] }],
      raw_input_contents: [bytesOf(flat)],
    });
    assert.equal(res.model_name, "iris");
    assert.equal(res.model_version, "1");
    assert.equal(res.id, "req-7");
    assert.deepEqual(
      res.outputs.map((o: Obj) => [o.name, o.datatype, o.shape.map(Number), o.contents]),
      [
        ["probabilities", "FP32", [rows.length, 3], null],
        ["label", "INT64", [rows.length], null],
      ],
    );
    const [probs, labels] = http.outputs as Obj[];
    assert.deepEqual(res.raw_output_contents[0], bytesOf(Float32Array.from(probs!.data)));
    assert.deepEqual(res.raw_output_contents[1], bytesOf(BigInt64Array.from(labels!.data, BigInt)));
    assert.deepEqual(labels!.data.slice(0, 3), [0, 1, 2], "each class mean is its own species");
  });

  test("typed contents in, typed contents out: the same values as the HTTP JSON path", async () => {
    const http = await postJson(`${r.server.url}/v2/models/iris/infer`, {
      inputs: [{ name: "input", datatype: "FP32", shape: [rows.length, 4], data: rows }],
    });
    const res = await call(r.client, "ModelInfer", {
      model_name: "iris",
      model_version: "1",
      inputs: [
        {
          name: "input",
          datatype: "FP32",
          shape: [rows.length, 4],
          contents: { fp32_contents: Array.from(flat) },
        },
      ],
    });
    assert.deepEqual(res.raw_output_contents, []);
    const [probs, labels] = res.outputs as Obj[];
    assert.deepEqual(
      bytesOf(Float32Array.from(probs!.contents.fp32_contents)),
      bytesOf(Float32Array.from((http.outputs as Obj[])[0]!.data)),
    );
    assert.deepEqual(labels!.contents.int64_contents, (http.outputs as Obj[])[1]!.data.map(String));
  });

  test("only the outputs asked for come back", async () => {
    const res = await call(r.client, "ModelInfer", {
      model_name: "iris",
      inputs: [{ name: "input", datatype: "FP32", shape: [1, 4] }],
      outputs: [{ name: "label" }],
      raw_input_contents: [bytesOf(Float32Array.from(irisCentroids[2]!))],
    });
    assert.deepEqual(
      res.outputs.map((o: Obj) => o.name),
      ["label"],
    );
    assert.deepEqual(res.raw_output_contents, [bytesOf(BigInt64Array.of(2n))]);
  });

  test("bad requests get INVALID_ARGUMENT naming the input, unknown models NOT_FOUND", async () => {
    const infer = (req: Obj) => call(r.client, "ModelInfer", { model_name: "iris", ...req });
    const input = (extra: Obj = {}) => ({ name: "input", datatype: "FP32", shape: [1, 4], ...extra });
    await rejectsWith(
      infer({ inputs: [input({ shape: [1, 5] })], raw_input_contents: [Buffer.alloc(20)] }),
      status.INVALID_ARGUMENT,
      /input "input" has shape \[1,5\], the model expects \[-1,4\] \(-1 = any size\)/,
    );
    await rejectsWith(
      infer({ inputs: [input()], raw_input_contents: [Buffer.alloc(12)] }),
      status.INVALID_ARGUMENT,
      /input "input": raw contents hold 12 bytes, 4 FP32 elements need 16/,
    );
    await rejectsWith(
      infer({ inputs: [input({ datatype: "FP64" })], raw_input_contents: [Buffer.alloc(32)] }),
      status.INVALID_ARGUMENT,
      /input "input" has datatype "FP64", the model expects FP32/,
    );
    await rejectsWith(
      infer({ inputs: [input({ contents: { fp32_contents: [1, 2, 3] } })] }),
      status.INVALID_ARGUMENT,
      /input "input" has 3 values in contents.fp32_contents, shape \[1,4\] needs 4/,
    );
    await rejectsWith(
      infer({ inputs: [input({ contents: { int_contents: [1, 2, 3, 4] } })] }),
      status.INVALID_ARGUMENT,
      /input "input" is FP32: its values go in contents.fp32_contents, not contents.int_contents/,
    );
    await rejectsWith(
      infer({ inputs: [input(), input({ name: "other" })], raw_input_contents: [Buffer.alloc(16)] }),
      status.INVALID_ARGUMENT,
      /raw_input_contents has 1 entries for 2 inputs/,
    );
    await rejectsWith(
      infer({ inputs: [input({ name: "petals" })], raw_input_contents: [Buffer.alloc(16)] }),
      status.INVALID_ARGUMENT,
      /unknown input "petals"; the model takes "input" \(FP32 \[-1,4\]\)/,
    );
    await rejectsWith(
      infer({ inputs: [input()], outputs: [{ name: "logits" }], raw_input_contents: [Buffer.alloc(16)] }),
      status.INVALID_ARGUMENT,
      /unknown output "logits"; the model returns "probabilities", "label"/,
    );
    await rejectsWith(infer({ inputs: [] }), status.INVALID_ARGUMENT, /at least one entry in inputs/);
    await rejectsWith(
      infer({ inputs: [input({ parameters: { shared_memory_region: { string_param: "r0" } } })] }),
      status.INVALID_ARGUMENT,
      /input "input": shared memory is not supported/,
    );
    await rejectsWith(
      infer({
        inputs: [input()],
        outputs: [{ name: "label", parameters: { classification: { int64_param: 2 } } }],
        raw_input_contents: [Buffer.alloc(16)],
      }),
      status.INVALID_ARGUMENT,
      /output "label": parameters.classification is not supported/,
    );
    await rejectsWith(
      call(r.client, "ModelInfer", { model_name: "nope", inputs: [input()] }),
      status.NOT_FOUND,
      /model "nope" not found; this server has "iris"/,
    );
    await rejectsWith(
      infer({ model_version: "9", inputs: [input()] }),
      status.NOT_FOUND,
      /model "iris" has no version "9"; versions: 1/,
    );
    await rejectsWith(call(r.client, "ModelReady", { name: "nope" }), status.NOT_FOUND, /not found/);
    // A client value quoted back is bounded: details travel in a trailer.
    await assert.rejects(call(r.client, "ModelReady", { name: "m".repeat(100_000) }), (err: ServiceError) => {
      assert.equal(err.code, status.NOT_FOUND);
      assert.ok(err.details.length < 1200, `${err.details.length} characters`);
      return true;
    });
    await rejectsWith(call(r.client, "ModelMetadata", { name: "" }), status.INVALID_ARGUMENT, /empty/);
  });

  test("a message over --max-body-bytes gets RESOURCE_EXHAUSTED before it is decoded", async () => {
    const rowsTooMany = (1 << 20) / 16 + 1;
    await rejectsWith(
      call(r.client, "ModelInfer", {
        model_name: "iris",
        inputs: [{ name: "input", datatype: "FP32", shape: [rowsTooMany, 4] }],
        raw_input_contents: [Buffer.alloc(rowsTooMany * 16)],
      }),
      status.RESOURCE_EXHAUSTED,
      /larger than max/,
    );
    // The connection stays usable.
    assert.deepEqual(await call(r.client, "ServerLive", {}), { live: true });
  });

  test("gRPC requests are metered beside HTTP ones, with the HTTP status of the same outcome", async () => {
    const text = await (await fetch(`${r.server.url}/metrics`)).text();
    assert.match(
      text,
      /modelship_inference_requests_total\{model="iris",version="1",protocol="grpc",code="200"[^}]*\} [1-9]/,
    );
    assert.match(
      text,
      /modelship_inference_requests_total\{model="iris",version="1",protocol="grpc",code="400"[^}]*\} [1-9]/,
    );
  });
});

describe("gRPC: datatypes", () => {
  // [dtype, datatype, typed contents field, typed values, the same values as raw bytes]
  const cases: [OnnxDtype, string, string, unknown[], Buffer][] = [
    ["float64", "FP64", "fp64_contents", [1.25, -1e300], bytesOf(Float64Array.of(1.25, -1e300))],
    ["int8", "INT8", "int_contents", [-128, 127], bytesOf(Int8Array.of(-128, 127))],
    ["int32", "INT32", "int_contents", [-70000, 70000], bytesOf(Int32Array.of(-70000, 70000))],
    [
      "int64",
      "INT64",
      "int64_contents",
      ["-9007199254740993", "9223372036854775807"],
      bytesOf(BigInt64Array.of(-9007199254740993n, 9223372036854775807n)),
    ],
    ["uint16", "UINT16", "uint_contents", [0, 65535], bytesOf(Uint16Array.of(0, 65535))],
    [
      "uint64",
      "UINT64",
      "uint64_contents",
      ["18446744073709551615", "1"],
      bytesOf(BigUint64Array.of(18446744073709551615n, 1n)),
    ],
    ["bool", "BOOL", "bool_contents", [true, false], Buffer.from([1, 0])],
    [
      "string",
      "BYTES",
      "bytes_contents",
      [Buffer.from("héllo"), Buffer.alloc(0)],
      bytesTensor(["héllo", ""]),
    ],
  ];
  let r: Running;
  before(async () => {
    r = await start(
      [...cases.map(([dtype]) => dtype), "float16" as const].map((dtype) => ({
        name: `id-${dtype}`,
        version: "1",
        path: writeModel(identityModel({ dtype, shape: ["n", 2] }), dir, `id-${dtype}.onnx`),
      })),
    );
  });
  after(() => stop(r));

  for (const [dtype, datatype, field, values, raw] of cases) {
    test(`${datatype} round-trips as typed contents and as raw contents`, async () => {
      const typed = await call(r.client, "ModelInfer", {
        model_name: `id-${dtype}`,
        inputs: [{ name: "x", datatype, shape: [1, 2], contents: { [field]: values } }],
      });
      assert.deepEqual(typed.outputs[0].contents[field], values);
      assert.deepEqual(typed.outputs[0].shape, ["1", "2"]);
      const asRaw = await call(r.client, "ModelInfer", {
        model_name: `id-${dtype}`,
        inputs: [{ name: "x", datatype, shape: [1, 2] }],
        raw_input_contents: [raw],
      });
      assert.equal(asRaw.outputs[0].datatype, datatype);
      assert.deepEqual(asRaw.raw_output_contents, [raw]);
    });
  }

  test("FP16 has no typed field: it travels raw both ways", async () => {
    const half = bytesOf(Uint16Array.of(toHalf(1.5), toHalf(-2)));
    const res = await call(r.client, "ModelInfer", {
      model_name: "id-float16",
      inputs: [{ name: "x", datatype: "FP16", shape: [1, 2] }],
      raw_input_contents: [half],
    });
    assert.deepEqual(res.raw_output_contents, [half]);
    await rejectsWith(
      call(r.client, "ModelInfer", {
        model_name: "id-float16",
        inputs: [{ name: "x", datatype: "FP16", shape: [1, 2], contents: { fp32_contents: [1.5, -2] } }],
      }),
      status.INVALID_ARGUMENT,
      /input "x" is FP16, which has no typed contents field: send it in raw_input_contents/,
    );
  });

  test("values that do not fit the datatype are refused with the JSON path's messages", async () => {
    await rejectsWith(
      call(r.client, "ModelInfer", {
        model_name: "id-int8",
        inputs: [{ name: "x", datatype: "INT8", shape: [1, 2], contents: { int_contents: [1, 300] } }],
      }),
      status.INVALID_ARGUMENT,
      /input "x": element 1 is 300, expected an integer in \[-128, 127\]/,
    );
    await rejectsWith(
      call(r.client, "ModelInfer", {
        model_name: "id-string",
        inputs: [{ name: "x", datatype: "BYTES", shape: [1, 2] }],
        raw_input_contents: [Buffer.concat([bytesTensor(["ok"]), Buffer.from([9, 0, 0, 0, 65])])],
      }),
      status.INVALID_ARGUMENT,
      /input "x": BYTES element 1 declares 9 bytes, only 1 remain/,
    );
    await rejectsWith(
      call(r.client, "ModelInfer", {
        model_name: "id-bool",
        inputs: [{ name: "x", datatype: "BOOL", shape: [1, 2] }],
        raw_input_contents: [Buffer.from([1, 7])],
      }),
      status.INVALID_ARGUMENT,
      /input "x": element 1 is 7, expected 0 or 1 \(BOOL\)/,
    );
  });
});

describe("gRPC: readiness, overload, deadlines and shutdown", () => {
  const slowPath = writeModel(slowModel({ dim: 256, depth: 64 }), dir, "slow.onnx");
  const slowRequest = (rows: number) => ({
    model_name: "slow",
    inputs: [{ name: "x", datatype: "FP32", shape: [rows, 256] }],
    raw_input_contents: [bytesOf(new Float32Array(rows * 256).fill(1))],
  });

  test("live while models load, ready once they have: the same answers as HTTP", async () => {
    const r = await start([{ name: "slow", version: "1", path: slowPath }], {}, false);
    try {
      assert.deepEqual(await call(r.client, "ServerLive", {}), { live: true });
      assert.deepEqual(await call(r.client, "ServerReady", {}), { ready: false });
      assert.deepEqual(await call(r.client, "ModelReady", { name: "slow" }), { ready: false });
      await rejectsWith(call(r.client, "ModelInfer", slowRequest(1)), status.UNAVAILABLE, /is not ready/);
      await rejectsWith(call(r.client, "ModelMetadata", { name: "slow" }), status.UNAVAILABLE, /not loaded/);
      await r.server.load();
      assert.deepEqual(await call(r.client, "ServerReady", {}), { ready: true });
      assert.equal((await fetch(`${r.server.url}/v2/health/ready`)).status, 200);
    } finally {
      await stop(r);
    }
  });

  test("a full queue gets RESOURCE_EXHAUSTED, a slow answer DEADLINE_EXCEEDED", async () => {
    const r = await start([{ name: "slow", version: "1", path: slowPath }], {
      maxQueue: 1,
      maxBatchSize: 1,
      maxBodyBytes: 64 << 20,
    });
    try {
      const results = await Promise.allSettled(
        Array.from({ length: 4 }, () => call(r.client, "ModelInfer", slowRequest(2000))),
      );
      const codes = results.map((x) =>
        x.status === "fulfilled" ? status.OK : (x.reason as ServiceError).code,
      );
      // One queued (all four can arrive before the first is dispatched), the rest find the queue full.
      assert.ok(codes.includes(status.RESOURCE_EXHAUSTED), `codes: ${codes.join(",")}`);
      assert.ok(codes.includes(status.OK), `codes: ${codes.join(",")}`);
      const full = results.find((x) => x.status === "rejected")!;
      assert.match((full as PromiseRejectedResult).reason.details, /queued \(--max-queue\)/);
      // The client's own deadline: the queue drops the request once nobody waits for it.
      await rejectsWith(call(r.client, "ModelInfer", slowRequest(3000), 50), status.DEADLINE_EXCEEDED, /.*/);
    } finally {
      await stop(r);
    }
    const strict = await start([{ name: "slow", version: "1", path: slowPath }], {
      requestTimeoutMs: 50,
      maxBodyBytes: 64 << 20,
    });
    try {
      await rejectsWith(
        call(strict.client, "ModelInfer", slowRequest(3000)),
        status.DEADLINE_EXCEEDED,
        /did not answer within 50 ms/,
      );
    } finally {
      await stop(strict);
    }
  });

  test("shutdown answers the call in flight, then refuses new ones", async () => {
    const r = await start([{ name: "slow", version: "1", path: slowPath }], { maxBodyBytes: 64 << 20 });
    try {
      const inFlight = call(r.client, "ModelInfer", slowRequest(2000));
      // Let the call reach the queue before the signal.
      for (let i = 0; i < 400; i++) {
        const text = await (await fetch(`${r.server.url}/metrics`)).text();
        if (/modelship_inference_in_flight\{[^}]*model="slow"[^}]*\} 1/.test(text)) break;
        await new Promise((res) => setTimeout(res, 5));
      }
      const drained = r.server.shutdown(20_000);
      assert.deepEqual(await call(r.client, "ServerReady", {}).catch(() => ({ ready: false })), {
        ready: false,
      });
      const res = await inFlight;
      assert.equal(res.raw_output_contents[0].length, 2000 * 256 * 4);
      await drained;
      await rejectsWith(call(r.client, "ServerLive", {}, 2_000), status.UNAVAILABLE, /.*/);
    } finally {
      r.client.close();
    }
  });
});
