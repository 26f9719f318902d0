// The proxy against a fault-injecting node:http upstream (5xx, garbage, silence, refused connections).
import { Mirror } from "../runtime/mirror.js";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, test } from "node:test";
import { createLogger } from "../platform/log.js";
import { createRegistry } from "../platform/metrics.js";
import type { EventConfig } from "../events/build.js";
import { parseEvent, type InferenceEvent, type ModelshipEvent, type Variant } from "../events/schema.js";
import { createEventMetrics } from "../events/metrics.js";
import { createLoggerMetrics } from "./metrics.js";
import { LoggerProxy, type UpstreamReadiness } from "./proxy.js";
import { readSegmentLines, Spool, type SpoolOptions } from "../events/spool.js";
import { metricValue, tmp } from "../testing/procs.js";

const log = createLogger({ name: "test", level: "silent" });
const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

async function upstream(handler: Handler): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => handler(req, Buffer.concat(chunks).toString(), res));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  closers.push(
    () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/** Echoes the OIP request's inputs back as outputs, like an identity model. */
const identity: Handler = (_req, body, res) => {
  const parsed = JSON.parse(body) as { inputs: { name: string }[] };
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify({ model_name: "m", outputs: parsed.inputs.map((t) => ({ ...t, name: "y" })) }));
};

const baseEvent: EventConfig = {
  model: "m",
  revision: "r",
  variant: "canary",
  features: [],
  redact: [],
  headerAllowlist: [],
  maxPayloadBytes: 1 << 20,
  sampleRate: 1,
};

async function proxy(opts: {
  upstream: string;
  fallbackUpstream?: string;
  timeoutMs?: number;
  event?: Partial<EventConfig>;
  upstreamReadiness?: UpstreamReadiness;
  variant?: { readonly current: Variant };
  spool?: Partial<SpoolOptions>;
  mirror?: Mirror;
}) {
  const spool = await Spool.open({
    dir: tmp("spool"),
    maxBytes: 1 << 24,
    syncIntervalMs: 50,
    log,
    mode: "write-through",
    ...opts.spool,
  });
  const registry = createRegistry("logger", { defaultMetrics: false });
  const p = new LoggerProxy({
    upstream: opts.upstream,
    ...(opts.fallbackUpstream !== undefined ? { fallbackUpstream: opts.fallbackUpstream } : {}),
    upstreamTimeoutMs: opts.timeoutMs ?? 30_000,
    event: { ...baseEvent, ...opts.event },
    ...(opts.upstreamReadiness !== undefined ? { upstreamReadiness: opts.upstreamReadiness } : {}),
    ...(opts.variant !== undefined ? { variant: opts.variant } : {}),
    ...(opts.mirror !== undefined ? { mirror: opts.mirror } : {}),
    spool,
    registry,
    metrics: { ...createLoggerMetrics(registry), ...createEventMetrics(registry) },
    log,
  });
  const url = await p.listen(0, "127.0.0.1");
  closers.push(async () => {
    await p.close();
    await spool.close();
  });
  return {
    url,
    /** Everything spooled so far, in order. */
    async events(): Promise<ModelshipEvent[]> {
      const out: ModelshipEvent[] = [];
      await spool.flush();
      for (let seg = await spool.next(); seg !== undefined; seg = await spool.next()) {
        for (const l of (await readSegmentLines(seg.path)).lines) out.push(parseEvent(l));
        await spool.ack(seg);
      }
      return out;
    },
    metrics: () => registry.metrics(),
  };
}

function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${url}/v2/models/m/infer`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

const oneRow = { inputs: [{ name: "x", datatype: "FP32", shape: [1, 2], data: [1, 2] }] };

function only(events: ModelshipEvent[]): InferenceEvent {
  assert.equal(events.length, 1, "exactly one event");
  const e = events[0]!;
  assert.equal(e.type, "io.modelship.inference.v1");
  return e as InferenceEvent;
}

test("a malformed 2xx upstream body is passed through and recorded as malformed_response", async () => {
  const up = await upstream((_req, _body, res) =>
    res.writeHead(200, { "content-type": "text/html" }).end("<h1>hi</h1>"),
  );
  const p = await proxy({ upstream: up.url });
  const res = await post(p.url, oneRow);
  assert.equal(res.status, 200);
  assert.equal(await res.text(), "<h1>hi</h1>");
  const e = only(await p.events());
  assert.equal(e.data.error?.type, "malformed_response");
  assert.equal(e.data.response, undefined);
  assert.deepEqual(e.data.request.inputs[0]?.data, [1, 2]);
});

test("an upstream 5xx is a model_error event; with a fallback the fallback answers and the event says so", async () => {
  const failing = await upstream((_req, _body, res) => res.writeHead(500).end('{"error":"model exploded"}'));
  const stable = await upstream(identity);
  const alone = await proxy({ upstream: failing.url });
  const r1 = await post(alone.url, oneRow);
  assert.equal(r1.status, 500);
  await r1.text();
  const e1 = only(await alone.events());
  assert.deepEqual(e1.data.error, { type: "model_error", message: "model exploded" });
  assert.equal(e1.data.fallback, false);

  const withFallback = await proxy({ upstream: failing.url, fallbackUpstream: stable.url });
  const r2 = await post(withFallback.url, oneRow);
  assert.equal(r2.status, 200);
  assert.equal(r2.headers.get("x-modelship-fallback"), "true");
  await r2.text();
  const e2 = only(await withFallback.events());
  assert.equal(e2.data.fallback, true);
  assert.equal(e2.data.status, 200);
  assert.equal(e2.data.error, undefined);
  assert.deepEqual(e2.data.predictions, [[1, 2]]);
  assert.equal(metricValue(await withFallback.metrics(), "modelship_fallback_total", { reason: "5xx" }), 1);
});

test("a refused connection is a 502 upstream_unreachable event, retried on the fallback", async () => {
  const gone = await upstream(identity);
  const goneUrl = gone.url;
  await new Promise<void>((r) => gone.server.close(() => r()));
  const p = await proxy({ upstream: goneUrl });
  const r = await post(p.url, oneRow);
  assert.equal(r.status, 502);
  assert.match(await r.text(), /upstream unreachable/);
  const e = only(await p.events());
  assert.equal(e.data.error?.type, "upstream_unreachable");
  assert.equal(e.data.status, 502);

  const stable = await upstream(identity);
  const fb = await proxy({ upstream: goneUrl, fallbackUpstream: stable.url });
  const r2 = await post(fb.url, oneRow);
  assert.equal(r2.status, 200);
  await r2.text();
  assert.equal(only(await fb.events()).data.fallback, true);
});

test("a silent upstream times out: 504 and a timeout event (then the fallback)", async () => {
  const silent = await upstream(() => undefined);
  const p = await proxy({ upstream: silent.url, timeoutMs: 300 });
  const r = await post(p.url, oneRow);
  assert.equal(r.status, 504);
  await r.text();
  const e = only(await p.events());
  assert.equal(e.data.error?.type, "timeout");
  assert.match(e.data.error?.message ?? "", /within 300 ms/);

  const stable = await upstream(identity);
  const fb = await proxy({ upstream: silent.url, fallbackUpstream: stable.url, timeoutMs: 300 });
  const r2 = await post(fb.url, oneRow);
  assert.equal(r2.status, 200);
  await r2.text();
  assert.equal(metricValue(await fb.metrics(), "modelship_fallback_total", { reason: "timeout" }), 1);
});

test("a 4xx is not retried on the fallback: the request itself is bad", async () => {
  let fallbackCalls = 0;
  const bad = await upstream((_req, _body, res) => res.writeHead(400).end('{"error":"wrong shape"}'));
  const stable = await upstream((req, body, res) => {
    fallbackCalls++;
    identity(req, body, res);
  });
  const p = await proxy({ upstream: bad.url, fallbackUpstream: stable.url });
  const r = await post(p.url, oneRow);
  assert.equal(r.status, 400);
  await r.text();
  assert.equal(fallbackCalls, 0);
  assert.deepEqual(only(await p.events()).data.error, { type: "bad_request", message: "wrong shape" });
});

test("oversized payloads are proxied in full but recorded truncated", async () => {
  const up = await upstream(identity);
  const p = await proxy({ upstream: up.url, event: { maxPayloadBytes: 2048 } });
  const data = Array.from({ length: 5000 }, (_, i) => i / 7);
  const r = await post(p.url, { inputs: [{ name: "x", datatype: "FP64", shape: [1, 5000], data }] });
  assert.equal(r.status, 200);
  const body = (await r.json()) as { outputs: { data: number[] }[] };
  assert.deepEqual(body.outputs[0]?.data, data, "the client got the whole response");
  const e = only(await p.events());
  assert.equal(e.data.truncated, true);
  assert.deepEqual(e.data.request.inputs, [{ name: "x", datatype: "FP64", shape: [1, 5000] }]);
  assert.deepEqual(e.data.response?.outputs, [{ name: "y", datatype: "FP64", shape: [1, 5000] }]);
  assert.ok(JSON.stringify(e).length < 4096);
});

test("sampling drops successes only; non-inference routes are proxied without events", async () => {
  const up = await upstream((req, body, res) => {
    if (req.url === "/v2/health/ready") return res.writeHead(200).end("");
    if (body.includes("fail")) return res.writeHead(400).end('{"error":"no"}');
    identity(req, body, res);
  });
  const p = await proxy({ upstream: up.url, event: { sampleRate: 0 } });
  for (let i = 0; i < 5; i++) {
    const r = await post(p.url, oneRow);
    assert.equal(
      r.headers.get("x-modelship-event-id"),
      null,
      "no event id for a request that is not recorded",
    );
    await r.text();
  }
  const failed = await post(p.url, '{"fail":1}');
  assert.ok(failed.headers.get("x-modelship-event-id"), "failures are recorded and carry their event id");
  await failed.text();
  const ready = await fetch(`${p.url}/v2/health/ready`);
  assert.equal(ready.status, 200);
  const events = await p.events();
  assert.equal(events.length, 1);
  assert.equal((events[0] as InferenceEvent).data.status, 400);
  assert.equal((events[0] as InferenceEvent).data.sampleRate, 0);
  const m = await p.metrics();
  assert.equal(metricValue(m, "modelship_events_total", { result: "sampled_out" }), 5);
  assert.equal(metricValue(m, "modelship_logger_requests_total", { kind: "other", code: "200" }), 1);
  const readyz = await fetch(`${p.url}/readyz`);
  assert.equal(readyz.status, 200, "ready when the upstream is ready");
});

test("feedback is recorded as a feedback event; bad feedback is a 400 naming the field", async () => {
  const up = await upstream(identity);
  const p = await proxy({ upstream: up.url });
  const r = await post(p.url, oneRow);
  const eventId = r.headers.get("x-modelship-event-id");
  await r.text();
  const fb = await fetch(`${p.url}/v2/feedback`, {
    method: "POST",
    body: JSON.stringify({ id: eventId, groundTruth: [0, 1] }),
  });
  assert.equal(fb.status, 202);
  const bad = await fetch(`${p.url}/v2/feedback`, { method: "POST", body: JSON.stringify({ id: eventId }) });
  assert.equal(bad.status, 400);
  assert.match(await bad.text(), /groundTruth/);
  const events = await p.events();
  assert.equal(events.length, 2);
  const feedback = events[1]!;
  assert.equal(feedback.type, "io.modelship.feedback.v1");
  assert.equal(feedback.type === "io.modelship.feedback.v1" && feedback.data.eventId, eventId);
  assert.equal(events[0]!.id, eventId);
});

test("a client that hangs up before the answer is recorded as client_aborted (499)", async () => {
  const slow = await upstream((req, body, res) => setTimeout(() => identity(req, body, res), 1_000));
  const p = await proxy({ upstream: slow.url });
  const answered = post(p.url, oneRow).then((r) => r.text());
  const ac = new AbortController();
  const hungUp = fetch(`${p.url}/v2/models/m/infer`, {
    method: "POST",
    body: JSON.stringify(oneRow),
    signal: ac.signal,
  });
  setTimeout(() => ac.abort(), 200);
  await assert.rejects(hungUp);
  await answered;
  let events: ModelshipEvent[] = [];
  for (let i = 0; i < 50 && events.length < 2; i++) {
    await new Promise((r) => setTimeout(r, 100));
    events = [...events, ...(await p.events())];
  }
  const statuses = events.map((e) => (e as InferenceEvent).data.status).sort();
  assert.deepEqual(statuses, [200, 499]);
  const aborted = events.find((e) => (e as InferenceEvent).data.status === 499) as InferenceEvent;
  assert.equal(aborted.data.error?.type, "client_aborted");
});

test("the fallback hop is marked, and a marked request never falls back again", async () => {
  const seen: (string | undefined)[] = [];
  const failing = await upstream((_req, _body, res) => res.writeHead(503).end('{"error":"busy"}'));
  const stable = await upstream((req, body, res) => {
    seen.push(req.headers["x-modelship-fallback"] as string | undefined);
    identity(req, body, res);
  });
  const p = await proxy({ upstream: failing.url, fallbackUpstream: stable.url });
  const r1 = await post(p.url, oneRow);
  assert.equal(r1.status, 200);
  await r1.text();
  assert.deepEqual(seen, ["true"], "the fallback upstream sees the marker");

  const r2 = await post(p.url, oneRow, { "x-modelship-fallback": "true" });
  assert.equal(r2.status, 503, "a request that already is a fallback is answered as it is");
  await r2.text();
  assert.equal(seen.length, 1);
  const events = (await p.events()) as InferenceEvent[];
  assert.deepEqual(
    events.map((e) => [e.data.status, e.data.fallback]),
    [
      [200, true],
      [503, false],
    ],
  );
});

test("a stable logger copies inference requests to the shadow after answering; the shadow's logger records the copy as shadow and never falls back", async () => {
  // the shadow: a canary-role logger in front of a model that fails, with a fallback that must stay unused
  const fallbackHits: string[] = [];
  const fallback = await upstream((req, body, res) => {
    fallbackHits.push(req.url ?? "");
    identity(req, body, res);
  });
  const failing = await upstream((_req, _body, res) => res.writeHead(500).end('{"error":"boom"}'));
  const shadow = await proxy({ upstream: failing.url, fallbackUpstream: fallback.url });
  const mirror = new Mirror({
    maxInflight: 4,
    timeoutMs: 5_000,
    registry: createRegistry("logger", { defaultMetrics: false }),
    log,
  });
  closers.push(() => mirror.close());
  mirror.setTarget({ url: shadow.url, percent: 100 });
  const model = await upstream((req, body, res) =>
    req.method === "GET" ? res.end("{}") : identity(req, body, res),
  );
  const stable = await proxy({ upstream: model.url, event: { variant: "stable" }, mirror });
  const r = await post(stable.url, oneRow);
  assert.equal(r.status, 200, "the client gets the stable model's answer");
  const original = r.headers.get("x-modelship-event-id");
  await r.text();
  let copies: InferenceEvent[] = [];
  for (let i = 0; i < 100 && copies.length === 0; i++) {
    await new Promise((res) => setTimeout(res, 20));
    copies = (await shadow.events()) as InferenceEvent[];
  }
  const copy = only(copies);
  assert.equal(copy.data.variant, "shadow");
  assert.equal(copy.data.status, 500, "the shadow's own answer, not a fallback's");
  assert.equal(copy.data.fallback, false);
  assert.deepEqual(fallbackHits, []);
  assert.equal(only(await stable.events()).id, original);
  // a non-inference request is proxied, not copied
  await (await fetch(`${stable.url}/v2/health/ready`)).text();
  await new Promise((res) => setTimeout(res, 100));
  assert.equal((await shadow.events()).length, 0);
});

test("a marked request reaches the upstream with its one marker, and framing headers are the proxy's own", async () => {
  const seen: { marker: string | undefined; raw: string[] }[] = [];
  const up = await upstream((req, body, res) => {
    seen.push({ marker: req.headers["x-modelship-fallback"] as string | undefined, raw: req.rawHeaders });
    identity(req, body, res);
  });
  const p = await proxy({ upstream: up.url, fallbackUpstream: up.url });
  const r = await post(p.url, oneRow, { "x-modelship-fallback": "true" });
  assert.equal(r.status, 200);
  await r.text();
  assert.equal(seen[0]?.marker, "true");
  const names = seen[0]!.raw.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
  assert.equal(names.filter((n) => n === "x-modelship-fallback").length, 1);
  assert.equal(names.filter((n) => n === "content-length").length, 1);
  // fetch's own Connection: keep-alive is not passed on (the upstream connection's own may be there)
  const connection = seen[0]!.raw.filter((_, i) => i % 2 === 1 && /^connection$/i.test(seen[0]!.raw[i - 1]!));
  assert.ok(connection.length <= 1, "one Connection header, the proxy's own");
  assert.equal(names.filter((n) => n === "host").length, 1);
});

test("/readyz follows the upstream's readiness as configured: a path answering 2xx/3xx, or a TCP connect", async () => {
  // a server without OIP v2: no /v2/health/ready, a /healthz, a redirect
  const up = await upstream((req, _body, res) => {
    if (req.url === "/healthz") return res.writeHead(200).end("ok");
    if (req.url === "/moved") return res.writeHead(302, { location: "/healthz" }).end();
    res.writeHead(404).end("not found");
  });
  const readyz = async (upstreamReadiness?: UpstreamReadiness, to = up.url) => {
    const p = await proxy({ upstream: to, ...(upstreamReadiness ? { upstreamReadiness } : {}) });
    const r = await fetch(`${p.url}/readyz`);
    return { status: r.status, text: await r.text() };
  };
  const v2 = await readyz();
  assert.equal(v2.status, 503, "the default, OIP v2's /v2/health/ready, is not there");
  assert.match(v2.text, /\/v2\/health\/ready answered 404/);
  assert.equal((await readyz({ path: "/healthz" })).status, 200);
  assert.equal((await readyz({ path: "/moved" })).status, 200, "3xx is ready, as for the kubelet");
  assert.equal((await readyz("tcp")).status, 200, "tcp: it accepts connections");
  const refused = await readyz("tcp", "http://127.0.0.1:9");
  assert.equal(refused.status, 503);
  assert.match(refused.text, /ECONNREFUSED/);
});

test("requests in flight are counted by kind while they are proxied", async () => {
  let release = () => {};
  const held = new Promise<void>((r) => (release = r));
  const up = await upstream((req, body, res) => void held.then(() => identity(req, body, res)));
  const p = await proxy({ upstream: up.url });
  const pending = [post(p.url, oneRow), post(p.url, oneRow)];
  const inFlight = async () =>
    metricValue(await p.metrics(), "modelship_logger_requests_in_flight", { kind: "infer" });
  try {
    for (let i = 0; i < 100 && (await inFlight()) < 2; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(await inFlight(), 2);
  } finally {
    release();
    for (const r of await Promise.all(pending)) await r.text();
  }
  assert.equal(await inFlight(), 0);
});

test("events carry the pod's current variant, which may change while the logger runs", async () => {
  const up = await upstream(identity);
  const variant = { current: "stable" as Variant };
  const p = await proxy({ upstream: up.url, event: { variant: "stable" }, variant });
  await (await post(p.url, oneRow)).text();
  variant.current = "canary";
  await (await post(p.url, oneRow)).text();
  const events = (await p.events()) as InferenceEvent[];
  assert.deepEqual(
    events.map((e) => e.data.variant),
    ["stable", "canary"],
  );
});

for (const mode of ["write-through", "fsync", "buffered"] as const)
  test(`spool full (${mode}): the answer carries an event id only for events the spool took`, async () => {
    const up = await upstream(identity);
    // room for a handful of events; nothing ships them
    const p = await proxy({ upstream: up.url, spool: { mode, maxBytes: 6 * 1024, syncIntervalMs: 10_000 } });
    const ids: (string | null)[] = [];
    for (let i = 0; i < 30; i++) {
      const r = await post(p.url, oneRow);
      assert.equal(r.status, 200, "requests keep flowing when the spool is full");
      ids.push(r.headers.get("x-modelship-event-id"));
      await r.text();
    }
    const m = await p.metrics();
    const spooled = metricValue(m, "modelship_events_total", { result: "spooled" });
    const dropped = metricValue(m, "modelship_events_total", { result: "dropped" });
    assert.ok(spooled > 0 && spooled < 30, `some spooled (${spooled})`);
    const stored = new Set((await p.events()).map((e) => e.id));
    const promised = ids.filter((id): id is string => id !== null);
    assert.ok(promised.length > 0 && promised.length < 30, `some ids promised (${promised.length})`);
    assert.deepEqual(
      promised.filter((id) => !stored.has(id)),
      [],
      "every id a client got is an event in the spool",
    );
    if (mode !== "buffered") {
      assert.equal(promised.length, spooled);
      assert.equal(dropped, 30 - spooled, "the others are counted as dropped");
    }
  });

test("fsync spool: answers wait for the group's fdatasync, and every id given out is on disk", async () => {
  const up = await upstream(identity);
  const p = await proxy({ upstream: up.url, spool: { mode: "fsync" } });
  const answers = await Promise.all(
    Array.from({ length: 20 }, async () => {
      const r = await post(p.url, oneRow);
      await r.text();
      return r.headers.get("x-modelship-event-id");
    }),
  );
  const stored = new Set((await p.events()).map((e) => e.id));
  assert.equal(stored.size, 20);
  for (const id of answers) assert.ok(id !== null && stored.has(id));
});
