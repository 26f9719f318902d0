import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { after, test } from "node:test";
import { createLogger } from "../platform/log.js";
import { createRegistry } from "../platform/metrics.js";
import { buildFeedbackEvent, buildInferenceEvent, type EventConfig } from "../events/build.js";
import type { ModelshipEvent } from "../events/schema.js";
import { metricValue, tmp } from "../testing/procs.js";
import { CollectorServer } from "./server.js";
import { EventStore } from "./store.js";

const log = createLogger({ name: "test", level: "silent" });
const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

const cfg: EventConfig = {
  model: "fraud",
  revision: "r",
  variant: "stable",
  features: [],
  redact: [],
  headerAllowlist: [],
  maxPayloadBytes: 1 << 20,
  sampleRate: 1,
};

function event(id: string, time: string, model = "fraud"): ModelshipEvent {
  return buildInferenceEvent(
    {
      id,
      time: new Date(time),
      path: `/v2/models/${model}/infer`,
      protocol: "v2",
      requestHeaders: {},
      requestBody: Buffer.from(
        JSON.stringify({ inputs: [{ name: "x", datatype: "FP32", shape: [1], data: [1] }] }),
      ),
      status: 200,
      responseBody: Buffer.from(
        JSON.stringify({ outputs: [{ name: "y", datatype: "FP32", shape: [1], data: [2] }] }),
      ),
      latencyMs: 1,
      fallback: false,
    },
    { ...cfg, model },
  );
}

async function collector(dir: string, opts: { gzip?: boolean } = {}) {
  const store = new EventStore({ dir, log, ...opts });
  const registry = createRegistry("collector", { defaultMetrics: false });
  const server = new CollectorServer({ store, registry, log });
  const url = await server.listen(0, "127.0.0.1");
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await server.close();
    await store.close();
  };
  closers.push(close);
  return { url, close, metrics: () => registry.metrics() };
}

async function send(url: string, events: unknown[], asArray = false) {
  const body = asArray ? JSON.stringify(events) : events.map((e) => JSON.stringify(e)).join("\n") + "\n";
  const res = await fetch(`${url}/v1/events`, { method: "POST", body });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function exported(url: string, query: string): Promise<ModelshipEvent[]> {
  const res = await fetch(`${url}/v1/events?${query}`);
  assert.equal(res.status, 200);
  return (await res.text())
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as ModelshipEvent);
}

test("batches are de-duplicated by id, within a batch, across batches and across restarts", async () => {
  const dir = tmp("store");
  const a = await collector(dir);
  const e1 = event("a1", "2026-03-01T10:15:00Z");
  const e2 = event("a2", "2026-03-01T10:16:00Z");
  assert.deepEqual((await send(a.url, [e1, e2, e1])).body, {
    accepted: 2,
    duplicates: 1,
    invalid: 0,
    oversized: 0,
    expired: 0,
    errors: [],
  });
  assert.deepEqual((await send(a.url, [e2])).body, {
    accepted: 0,
    duplicates: 1,
    invalid: 0,
    oversized: 0,
    expired: 0,
    errors: [],
  });
  assert.equal(
    metricValue(await a.metrics(), "modelship_collector_events_total", { result: "duplicate" }),
    2,
  );
  await a.close();

  const b = await collector(dir);
  const e3 = event("a3", "2026-03-01T10:17:00Z");
  assert.deepEqual((await send(b.url, [e1, e3], true)).body, {
    accepted: 1,
    duplicates: 1,
    invalid: 0,
    oversized: 0,
    expired: 0,
    errors: [],
  });
  const all = await exported(b.url, "model=fraud");
  assert.deepEqual(
    all.map((e) => e.id),
    ["a1", "a2", "a3"],
  );
});

test("files are partitioned by model, date and hour; export filters by window and type", async () => {
  const dir = tmp("store");
  const c = await collector(dir);
  const feedback = buildFeedbackEvent(
    "f1",
    new Date("2026-03-01T12:30:00Z"),
    { eventId: "b1", groundTruth: 1 },
    cfg,
  );
  await send(c.url, [
    event("b1", "2026-03-01T10:59:59.999Z"),
    event("b2", "2026-03-01T11:00:00Z"),
    event("b3", "2026-03-02T00:10:00Z"),
    event("o1", "2026-03-01T11:00:00Z", "other"),
    feedback,
  ]);
  assert.deepEqual(readdirSync(dir).sort(), ["fraud", "other"]);
  assert.deepEqual(readdirSync(join(dir, "fraud")).sort(), ["2026-03-01", "2026-03-02"]);
  assert.deepEqual(readdirSync(join(dir, "fraud", "2026-03-01")).sort(), ["10", "11", "12"]);
  const ids = async (q: string) => (await exported(c.url, q)).map((e) => e.id);
  assert.deepEqual(await ids("model=fraud"), ["b1", "b2", "f1", "b3"]);
  assert.deepEqual(await ids("model=fraud&since=2026-03-01T11:00:00Z&until=2026-03-02T00:00:00Z"), [
    "b2",
    "f1",
  ]);
  assert.deepEqual(await ids("model=fraud&type=feedback"), ["f1"]);
  assert.deepEqual(await ids("model=fraud&type=inference&since=2026-03-01T10:30:00%2B00:00"), [
    "b1",
    "b2",
    "b3",
  ]);
  assert.deepEqual(await ids("model=nope"), []);
  const models = (await (await fetch(`${c.url}/v1/models`)).json()) as { models: string[] };
  assert.deepEqual(models.models, ["fraud", "other"]);
  const bad = await fetch(`${c.url}/v1/events?model=fraud&since=yesterday`);
  assert.equal(bad.status, 400);
  assert.match(await bad.text(), /since must be an RFC 3339 time/);
  assert.equal((await fetch(`${c.url}/v1/events`)).status, 400);
});

test("with --gzip, rotated segments are compressed atomically and still exported once", async () => {
  const dir = tmp("store");
  const c = await collector(dir, { gzip: true });
  await send(c.url, [event("g1", "2026-03-01T10:00:00Z"), event("g2", "2026-03-01T10:01:00Z")]);
  await c.close(); // rotates every open segment
  const hourDir = join(dir, "fraud", "2026-03-01", "10");
  const files = readdirSync(hourDir);
  assert.equal(files.length, 1);
  assert.match(files[0]!, /\.ndjson\.gz$/);
  const lines = gunzipSync(readFileSync(join(hourDir, files[0]!)))
    .toString()
    .trim()
    .split("\n");
  assert.equal(lines.length, 2);

  const again = await collector(dir, { gzip: true });
  assert.equal(
    (await send(again.url, [event("g1", "2026-03-01T10:00:00Z")])).body.duplicates,
    1,
    "ids read from .gz",
  );
  await send(again.url, [event("g3", "2026-03-01T10:02:00Z")]);
  assert.deepEqual(
    (await exported(again.url, "model=fraud")).map((e) => e.id),
    ["g1", "g2", "g3"],
  );
});

test("invalid events are counted and reported; a batch of only invalid events is a 400", async () => {
  const c = await collector(tmp("store"));
  const ok = event("v1", "2026-03-01T10:00:00Z");
  const r = await send(c.url, [ok, { ...ok, id: "v2", specversion: "0.3" }]);
  assert.equal(r.status, 200);
  assert.equal(r.body.accepted, 1);
  assert.equal(r.body.invalid, 1);
  assert.match(String((r.body.errors as string[])[0]), /specversion/);
  const bad = await fetch(`${c.url}/v1/events`, { method: "POST", body: "not json\n" });
  assert.equal(bad.status, 400);
  const notArray = await fetch(`${c.url}/v1/events`, { method: "POST", body: "[1," });
  assert.equal(notArray.status, 400);
});
