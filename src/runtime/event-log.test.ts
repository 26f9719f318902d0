// serve records its own InferenceEvents: real ModelServers, a real iris model run by onnxruntime, the real
// spool on disk; the sink is left unreachable so every event stays in the spool where the test reads it.
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { EVENT_ID_HEADER, FALLBACK_HEADER, SHADOW_HEADER } from "../events/constants.js";
import { EventRecorder, type RecorderConfig } from "../events/recorder.js";
import { parseEvent, type InferenceEvent, type ModelshipEvent } from "../events/schema.js";
import { readSegmentLines } from "../events/spool.js";
import { createLogger } from "../platform/log.js";
import { createRegistry } from "../platform/metrics.js";
import { irisFeatures, irisModel, irisReference } from "../testing/onnx/iris.js";
import { tempDir, writeModel } from "../testing/onnx/builders.js";
import { credentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import { ServeEventLog } from "./event-log.js";
import { GrpcInferenceServer, inferenceService } from "./grpc-server.js";
import { FallbackUpstream } from "./fallback.js";
import { Mirror } from "./mirror.js";
import { ModelServer, type ServeOptions } from "./server.js";

const log = createLogger({ name: "serve", level: "silent" });
const modelPath = writeModel(irisModel(), tempDir("modelship-events-"));
const open: { close(): Promise<void> }[] = [];
after(async () => {
  for (const o of open.reverse()) await o.close();
});

/** Set by recorder(): the next server() shares it, so one /metrics shows both; else a fresh one. */
let registry: ReturnType<typeof createRegistry> | undefined;

async function server(over: Partial<ServeOptions> = {}, load = true): Promise<ModelServer> {
  const s = new ModelServer({
    models: [{ name: "iris", version: "1.0.0", path: modelPath }],
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
    log,
    registry: registry ?? createRegistry("serve", { defaultMetrics: false }),
    ...over,
  });
  registry = undefined;
  await s.listen();
  if (load) await s.load();
  open.push(s);
  return s;
}

const baseEvent: RecorderConfig["event"] = {
  model: "iris",
  revision: "r1",
  variant: "canary",
  features: irisFeatures.map((name) => ({ name, type: "numeric" as const })),
  redact: [],
  headerAllowlist: [],
  maxPayloadBytes: 1 << 20,
  sampleRate: 1,
};

/** A recorder whose metrics land on the registry of the next server() (a fresh one). */
async function recorder(over: Partial<RecorderConfig> = {}): Promise<{ events: ServeEventLog; dir: string }> {
  const reg = createRegistry("serve", { defaultMetrics: false });
  const dir = tempDir("modelship-spool-");
  const r = await EventRecorder.start(
    {
      // nothing listens on port 1: the sender retries and every event stays spooled for the test to read
      sink: "http://127.0.0.1:1",
      spoolDir: dir,
      spoolMaxBytes: 16 << 20,
      spoolSyncMs: 50,
      spoolMode: "write-through",
      drainTimeoutMs: 0,
      event: baseEvent,
      ...over,
    },
    log,
    reg,
  );
  open.push(r);
  registry = reg;
  return { events: new ServeEventLog(r), dir };
}

async function spooled(dir: string): Promise<ModelshipEvent[]> {
  const out: ModelshipEvent[] = [];
  for (const f of readdirSync(dir)
    .filter((n) => n.endsWith(".ndjson"))
    .sort()) {
    for (const line of (await readSegmentLines(join(dir, f))).lines) out.push(parseEvent(JSON.parse(line)));
  }
  return out;
}

const rows = [
  [5.1, 3.5, 1.4, 0.2],
  [6.7, 3.1, 4.7, 1.5],
];
const irisRequest = { id: "req-1", inputs: [{ name: "input", datatype: "FP32", shape: [2, 4], data: rows }] };

async function infer(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}/v2/models/iris/infer`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

describe("serve writes one InferenceEvent per inference request itself", () => {
  test("a prediction's event carries the request, the outputs, features and predictions; its id is the header", async () => {
    const { events, dir } = await recorder();
    const s = await server({ events });
    const res = await infer(s.url, irisRequest, { "x-request-id": "trace-7" });
    assert.equal(res.status, 200);
    const id = res.headers.get(EVENT_ID_HEADER);
    assert.ok(id, "the answer names its event");

    const [event] = (await spooled(dir)) as InferenceEvent[];
    assert.equal(event?.id, id);
    const d = event!.data;
    assert.deepEqual(d.model, { name: "iris", version: "1.0.0" });
    assert.equal(d.variant, "canary");
    assert.equal(d.status, 200);
    assert.equal(d.fallback, false);
    assert.equal(d.request.id, "req-1");
    assert.deepEqual(d.request.inputs[0]?.data, rows);
    assert.deepEqual(d.headers, { "x-request-id": "trace-7" });
    assert.deepEqual(d.features?.[1], {
      sepal_length: 6.7,
      sepal_width: 3.1,
      petal_length: 4.7,
      petal_width: 1.5,
    });
    // what onnxruntime computed, as the client got it
    const outputs = (res.body.outputs as { name: string; data: number[] }[]).map((o) => [o.name, o.data]);
    assert.deepEqual(
      d.response?.outputs.map((o) => [o.name, o.data]),
      outputs,
    );
    const probs = d.response?.outputs.find((o) => o.name === "probabilities")?.data as number[];
    const ref = irisReference(rows[1]!).probabilities;
    assert.ok(Math.abs(probs[3]! - ref[0]!) < 1e-6, "the recorded probabilities are the model's");
    assert.equal(d.predictions?.length, 2);
  });

  test("a request sent as binary tensor data is recorded with its values", async () => {
    const { events, dir } = await recorder();
    const s = await server({ events });
    const json = Buffer.from(
      JSON.stringify({
        inputs: [{ name: "input", datatype: "FP32", shape: [1, 4], parameters: { binary_data_size: 16 } }],
      }),
    );
    const raw = Buffer.from(new Float32Array([5.1, 3.5, 1.4, 0.2]).buffer);
    const res = await fetch(`${s.url}/v2/models/iris/infer`, {
      method: "POST",
      headers: { "inference-header-content-length": String(json.length) },
      body: Buffer.concat([json, raw]),
    });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    const [event] = (await spooled(dir)) as InferenceEvent[];
    assert.equal(event?.id, res.headers.get(EVENT_ID_HEADER));
    const data = event!.data.request.inputs[0]?.data as number[];
    assert.deepEqual(data, Array.from(new Float32Array([5.1, 3.5, 1.4, 0.2])));
  });

  test("a bad request is recorded with its error; sampling never skips failures", async () => {
    const { events, dir } = await recorder({
      event: {
        model: "iris",
        revision: "r1",
        variant: "stable",
        features: [],
        redact: [],
        headerAllowlist: [],
        maxPayloadBytes: 1 << 20,
        sampleRate: 0,
      },
    });
    const s = await server({ events });
    const ok = await infer(s.url, irisRequest);
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get(EVENT_ID_HEADER), null, "sampled out: no event, no id");
    const bad = await infer(s.url, { inputs: [{ name: "nope", datatype: "FP32", shape: [1], data: [1] }] });
    assert.equal(bad.status, 400);
    const all = (await spooled(dir)) as InferenceEvent[];
    assert.equal(all.length, 1);
    assert.equal(all[0]?.id, bad.headers.get(EVENT_ID_HEADER));
    assert.equal(all[0]?.data.error?.type, "bad_request");
    assert.equal(all[0]?.data.request.inputs[0]?.name, "nope");
  });

  test("no x-modelship-event-id when the spool had no room; the answer is still served", async () => {
    const { events, dir } = await recorder({ spoolMaxBytes: 64 });
    const s = await server({ events });
    const res = await infer(s.url, irisRequest);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get(EVENT_ID_HEADER), null);
    assert.equal((await spooled(dir)).length, 0);
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    assert.match(metrics, /modelship_events_total\{result="dropped"[^}]*\} 1/);
  });

  test("a request the local model cannot answer is answered by the fallback and recorded as such", async () => {
    const { events, dir } = await recorder();
    const reg = registry;
    registry = undefined;
    const stable = await server();
    registry = reg;
    // never loaded: every request is a 503 here, as a canary that is not ready yet
    const canary = await server(
      { events, fallback: new FallbackUpstream(stable.url, 5_000, 1 << 20) },
      false,
    );
    open.push({ close: () => Promise.resolve() });
    const res = await infer(canary.url, irisRequest);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get(FALLBACK_HEADER), "true");
    const [event] = (await spooled(dir)) as InferenceEvent[];
    assert.equal(event?.data.fallback, true);
    assert.equal(event?.data.status, 200);
    assert.equal(event?.data.response?.outputs.length, 2);
    const metrics = await (await fetch(`${canary.url}/metrics`)).text();
    assert.match(metrics, /modelship_fallback_total\{reason="unavailable"[^}]*\} 1/);
    // what analysis judges: the canary's own answer was a 503
    assert.match(metrics, /modelship_inference_requests_total\{[^}]*code="503"[^}]*\} 1/);

    // a request that is a fallback already never falls back again
    const hop = await infer(canary.url, irisRequest, { [FALLBACK_HEADER]: "true" });
    assert.equal(hop.status, 503);
  });

  test("a stable front mirrors to a shadow: clients get stable's answers, the copies are recorded as shadow and never fall back", async () => {
    // the shadow: a canary-role pod whose events say shadow for mirrored copies
    const shadowLog = await recorder();
    const shadow = await server({
      events: shadowLog.events,
      fallback: new FallbackUpstream("http://127.0.0.1:1", 1_000, 1 << 20),
    });
    const stableLog = await recorder({ event: { ...baseEvent, variant: "stable" } });
    const mirror = new Mirror({
      maxInflight: 8,
      timeoutMs: 5_000,
      registry: createRegistry("serve", { defaultMetrics: false }),
      log,
    });
    open.push(mirror);
    mirror.setTarget({ url: shadow.url, percent: 100 });
    const stable = await server({ events: stableLog.events, mirror });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await infer(stable.url, irisRequest);
      assert.equal(res.status, 200);
      ids.push(res.headers.get(EVENT_ID_HEADER)!);
    }
    let copies: InferenceEvent[] = [];
    for (let i = 0; i < 100 && copies.length < 5; i++) {
      await new Promise((r) => setTimeout(r, 20));
      copies = (await spooled(shadowLog.dir)) as InferenceEvent[];
    }
    assert.equal(copies.length, 5);
    for (const e of copies) {
      assert.equal(e.data.variant, "shadow");
      assert.equal(e.data.status, 200);
      assert.deepEqual(e.data.request.inputs[0]?.data, rows);
    }
    const originals = (await spooled(stableLog.dir)) as InferenceEvent[];
    assert.deepEqual(
      originals.map((e) => e.id),
      ids,
    );
    assert.ok(originals.every((e) => e.data.variant === "stable"));

    // a shadow copy the shadow fails is not retried on the fallback: its answer goes nowhere
    const unready = await server({ fallback: new FallbackUpstream(stable.url, 5_000, 1 << 20) }, false);
    open.push({ close: () => Promise.resolve() });
    const copy = await infer(unready.url, irisRequest, { [SHADOW_HEADER]: ids[0]! });
    assert.equal(copy.status, 503);
    assert.equal(copy.headers.get(FALLBACK_HEADER), null);
  });

  test("POST /v2/feedback records ground truth for an earlier event", async () => {
    const { events, dir } = await recorder();
    const s = await server({ events });
    const res = await infer(s.url, irisRequest);
    const eventId = res.headers.get(EVENT_ID_HEADER)!;
    const fb = await fetch(`${s.url}/v2/feedback`, {
      method: "POST",
      body: JSON.stringify({ id: eventId, groundTruth: 1 }),
    });
    assert.equal(fb.status, 202);
    assert.equal(((await fb.json()) as { eventId: string }).eventId, eventId);
    const bad = await fetch(`${s.url}/v2/feedback`, {
      method: "POST",
      body: JSON.stringify({ groundTruth: 1 }),
    });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: string }).error, /"id"/);
    const all = await spooled(dir);
    assert.equal(all.length, 2);
    assert.equal(all[1]?.type, "io.modelship.feedback.v1");
  });

  test("a gRPC ModelInfer call is recorded the same way, its event id in the response metadata", async () => {
    const { events, dir } = await recorder();
    const s = await server({ events });
    const grpc = new GrpcInferenceServer(s, { host: "127.0.0.1", port: 0, maxMessageBytes: 1 << 20, log });
    s.attach(grpc);
    await grpc.listen();
    const Service = inferenceService();
    const client = new Service(grpc.url, credentials.createInsecure());
    open.push({ close: async () => client.close() });
    const md = new Metadata();
    md.set("x-request-id", "grpc-1");
    let eventId: string | undefined;
    const res = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const c = (client as any).ModelInfer(
        {
          model_name: "iris",
          inputs: [
            { name: "input", datatype: "FP32", shape: [2, 4], contents: { fp32_contents: rows.flat() } },
          ],
        },
        md,
        (err: ServiceError | null, r: Record<string, unknown>) => (err ? reject(err) : resolve(r)),
      );
      c.on("metadata", (m: Metadata) => (eventId = String(m.get("x-modelship-event-id")[0])));
    });
    assert.ok(res.outputs);
    const [event] = (await spooled(dir)) as InferenceEvent[];
    assert.equal(event?.id, eventId);
    assert.equal(event?.data.path, "/inference.GRPCInferenceService/ModelInfer");
    assert.deepEqual(event?.data.headers, { "x-request-id": "grpc-1" });
    assert.deepEqual(event?.data.request.inputs[0]?.shape, [2, 4]);
    assert.equal((event?.data.request.inputs[0]?.data as number[]).length, 8);
    assert.equal(event?.data.features?.length, 2, "features map from the decoded tensor as for HTTP");
    assert.equal(event?.data.response?.outputs.length, 2);
    // the statistics extension counts the gRPC call too
    const stats = (await (await fetch(`${s.url}/v2/models/iris/stats`)).json()) as {
      model_stats: { inference_count: number; inference_stats: { success: { count: number } } }[];
    };
    assert.equal(stats.model_stats[0]?.inference_stats.success.count, 1);
    assert.equal(stats.model_stats[0]?.inference_count, 2);
  });
});
