// serve + logger + collector as real processes on loopback: every request becomes exactly one event.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { identityModel, writeModel } from "../testing/onnx/builders.js";
import { parseEvent, type InferenceEvent } from "../events/schema.js";
import {
  eventually,
  exportEvents,
  metricValue,
  startCollectorCli,
  startLoggerCli,
  startServe,
  tmp,
  type Cli,
} from "../testing/procs.js";

const FEATURES = JSON.stringify([
  { name: "amount", type: "numeric" },
  { name: "age", type: "numeric" },
  { name: "score", type: "numeric" },
]);

const running: Cli[] = [];
after(async () => {
  await Promise.all(running.map((c) => c.stop(2_000)));
});

function track<T extends { cli: Cli }>(x: T): T {
  running.push(x.cli);
  return x;
}

function modelFile(): string {
  return writeModel(identityModel({ dtype: "float32", shape: ["batch", 3] }), tmp("model"));
}

async function infer(
  loggerUrl: string,
  rows: number[][],
  requestId: string,
): Promise<{ status: number; eventId: string | null; body: string }> {
  const res = await fetch(`${loggerUrl}/v2/models/fraud/infer`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-request-id": requestId, "x-tenant": "acme" },
    body: JSON.stringify({
      inputs: [{ name: "x", datatype: "FP32", shape: [rows.length, 3], data: rows.flat() }],
    }),
  });
  return { status: res.status, eventId: res.headers.get("x-modelship-event-id"), body: await res.text() };
}

function inference(events: Record<string, unknown>[]): InferenceEvent[] {
  return events
    .map((e) => parseEvent(e))
    .filter((e): e is InferenceEvent => e.type === "io.modelship.inference.v1");
}

/** Runs `worker` on `concurrency` loops until stop() is called; returns what every request got. */
function load(loggerUrl: string, concurrency: number, pauseMs: number) {
  const results: { requestId: string; status: number; eventId: string | null; at: number }[] = [];
  let stopped = false;
  let n = 0;
  const loops = Array.from({ length: concurrency }, async () => {
    while (!stopped) {
      const id = `load-${n++}`;
      try {
        const r = await infer(loggerUrl, [[n, 1, 2]], id);
        results.push({ requestId: id, status: r.status, eventId: r.eventId, at: Date.now() });
      } catch {
        // the logger was killed mid-request: the client saw no response
      }
      if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
    }
  });
  return {
    results,
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

describe("serve + logger + collector", { timeout: 600_000 }, () => {
  test("N requests give exactly N events with correct fields, including 400 and 502", async () => {
    const model = modelFile();
    const serve = track(await startServe([`fraud=${model}@3`]));
    const collector = track(await startCollectorCli(tmp("store")));
    const logger = track(
      await startLoggerCli([
        "--upstream",
        serve.url,
        "--sink",
        collector.url,
        "--spool-dir",
        tmp("spool"),
        "--model",
        "fraud",
        "--model-version",
        "3",
        "--revision",
        "abc123",
        "--variant",
        "canary",
        "--namespace",
        "risk",
        "--features",
        FEATURES,
        "--header-allowlist",
        "X-Tenant",
      ]),
    );

    const N = 40;
    const sent: { eventId: string; rows: number[][]; requestId: string }[] = [];
    for (let i = 0; i < N; i++) {
      const rows = [
        [i, 2 * i, 0.5],
        [i + 1, 7, 1.5],
      ];
      const r = await infer(logger.url, rows, `req-${i}`);
      assert.equal(r.status, 200, r.body);
      assert.ok(r.eventId, "the logger answers with the event id");
      sent.push({ eventId: r.eventId, rows, requestId: `req-${i}` });
    }
    // bad tensor: 2 values for shape [1,3] -> 400 from the model server
    const bad = await fetch(`${logger.url}/v2/models/fraud/infer`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "bad-1" },
      body: JSON.stringify({ inputs: [{ name: "x", datatype: "FP32", shape: [1, 3], data: [1, 2] }] }),
    });
    assert.equal(bad.status, 400);
    const badId = bad.headers.get("x-modelship-event-id");
    await bad.text();
    // feedback for the first event
    const fb = await fetch(`${logger.url}/v2/feedback`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id: sent[0]!.eventId, groundTruth: 1 }),
    });
    assert.equal(fb.status, 202);
    // model process killed -> 502 event
    serve.cli.child.kill("SIGKILL");
    await serve.cli.exited;
    const down = await infer(logger.url, [[1, 2, 3]], "down-1");
    assert.equal(down.status, 502);

    const events = await eventually(
      async () => {
        const all = await exportEvents(collector.url, "fraud");
        return all.length >= N + 3 ? all : undefined;
      },
      60_000,
      `${N + 3} events in the collector`,
    );
    assert.equal(events.length, N + 3, "exactly one event per request plus one feedback event");
    const inf = inference(events);
    assert.equal(new Set(inf.map((e) => e.id)).size, inf.length, "ids are unique");
    const byId = new Map(inf.map((e) => [e.id, e]));
    for (const s of sent) {
      const e = byId.get(s.eventId);
      assert.ok(e, `event ${s.eventId} stored`);
      assert.equal(e.specversion, "1.0");
      assert.equal(e.source, "modelship/risk/fraud/abc123");
      assert.deepEqual(e.data.model, { name: "fraud", version: "3" });
      assert.equal(e.data.revision, "abc123");
      assert.equal(e.data.variant, "canary");
      assert.equal(e.data.status, 200);
      assert.equal(e.data.fallback, false);
      assert.equal(e.data.error, undefined);
      assert.deepEqual(e.data.headers, { "x-request-id": s.requestId, "x-tenant": "acme" });
      assert.deepEqual(
        e.data.features,
        s.rows.map(([amount, age, score]) => ({ amount, age, score })),
      );
      assert.deepEqual(e.data.predictions, s.rows, "identity model: predictions equal inputs per row");
      assert.deepEqual(e.data.request.inputs[0]?.shape, [2, 3]);
      assert.equal(e.data.response?.outputs[0]?.name, "y");
      assert.ok(e.data.latencyMs >= 0);
      assert.equal(e.data.sampleRate, 1);
    }
    const badEvent = byId.get(badId!);
    assert.equal(badEvent?.data.status, 400);
    assert.equal(badEvent?.data.error?.type, "bad_request");
    assert.match(badEvent?.data.error?.message ?? "", /data elements/);
    const downEvent = inf.find((e) => e.data.headers["x-request-id"] === "down-1");
    assert.equal(downEvent?.data.status, 502);
    assert.equal(downEvent?.data.error?.type, "upstream_unreachable");
    assert.equal(downEvent?.data.response, undefined);
    const feedback = events.map((e) => parseEvent(e)).find((e) => e.type === "io.modelship.feedback.v1");
    assert.deepEqual(feedback?.data.eventId, sent[0]!.eventId);
    assert.equal(feedback?.data.groundTruth, 1);

    await logger.cli.stop();
    await collector.cli.stop();
  });

  test("collector down for 30 s under load: every event arrives once after it restarts", async () => {
    const serve = track(await startServe([`fraud=${modelFile()}`]));
    const dataDir = tmp("store");
    const first = await startCollectorCli(dataDir);
    const port = Number(new URL(first.url).port);
    const logger = track(
      await startLoggerCli([
        "--upstream",
        serve.url,
        "--sink",
        first.url,
        "--spool-dir",
        tmp("spool"),
        "--model",
        "fraud",
      ]),
    );
    const gen = load(logger.url, 2, 20);
    await new Promise((r) => setTimeout(r, 2_000));
    // SIGKILL: a batch may be stored but never acknowledged, so the logger re-sends it (a duplicate)
    first.cli.child.kill("SIGKILL");
    await first.cli.exited;
    await new Promise((r) => setTimeout(r, 30_000));
    const second = track(await startCollectorCli(dataDir, port));
    await new Promise((r) => setTimeout(r, 2_000));
    await gen.stop();

    const ok = gen.results.filter((r) => r.status === 200);
    assert.equal(ok.length, gen.results.length, "requests kept succeeding while the collector was down");
    assert.ok(ok.length > 100, `enough load to matter (${ok.length} requests)`);
    const want = new Set(ok.map((r) => r.eventId));
    const events = await eventually(
      async () => {
        const all = inference(await exportEvents(second.url, "fraud"));
        return all.length >= want.size ? all : undefined;
      },
      120_000,
      `${want.size} events after the collector restarted`,
    );
    const ids = events.map((e) => e.id);
    assert.equal(new Set(ids).size, ids.length, "no duplicates in the store");
    assert.deepEqual(new Set(ids), want, "every answered request has its event");
    const metrics = await (await fetch(`${logger.url}/metrics`)).text();
    assert.ok(metricValue(metrics, "modelship_events_sink_retries_total") > 0, "the sender retried");
    await logger.cli.stop();
    await second.cli.stop();
  });

  for (const mode of ["write-through", "fsync", "buffered"] as const)
    test(`logger kill -9 under load, ${mode} spool: ${mode !== "buffered" ? "no answered request's event is lost" : "only events of the last sync interval can be lost"}`, async () => {
      const serve = track(await startServe([`fraud=${modelFile()}`]));
      const collector = track(await startCollectorCli(tmp("store")));
      const spoolDir = tmp("spool");
      const syncMs = Number(process.env.SYNC_MS ?? 100);
      const args = [
        "--upstream",
        serve.url,
        "--sink",
        collector.url,
        "--spool-dir",
        spoolDir,
        "--model",
        "fraud",
        "--spool-mode",
        mode,
      ];
      const first = await startLoggerCli([...args, "--spool-sync-ms", String(syncMs)]);
      const gen = load(first.url, 4, 0);
      // enough answered requests that the spool has flushed many times, however slow the machine
      await eventually(
        async () => (gen.results.length >= 150 ? true : undefined),
        120_000,
        "150 answered requests",
      );
      const killedAt = Date.now();
      first.cli.child.kill("SIGKILL");
      await first.cli.exited;
      await gen.stop();

      // a new logger on the same spool ships what the killed one left on disk
      const second = track(await startLoggerCli([...args, "--spool-sync-ms", String(syncMs)]));
      const answered = gen.results.filter((r) => r.status === 200 && r.eventId !== null);
      assert.ok(answered.length >= 150, `enough load (${answered.length} answered requests)`);
      await eventually(
        async () => {
          const m = await (await fetch(`${second.url}/metrics`)).text();
          return metricValue(m, "modelship_events_spool_bytes") === 0 ? true : undefined;
        },
        60_000,
        "the restarted logger to empty the spool",
      );
      const stored = new Set(inference(await exportEvents(collector.url, "fraud")).map((e) => e.id));
      const lost = answered.filter((r) => !stored.has(r.eventId!));
      if (mode !== "buffered") {
        assert.deepEqual(lost, [], "every answered request's event was on disk before its answer");
        console.log(`# kill -9, ${mode}: ${answered.length} answered, none lost`);
        await second.cli.stop();
        return;
      }
      // the documented bound: events appended since the last completed sync (one interval plus the write in
      // flight). The window below is 20 intervals wide so a loaded CI machine's scheduling noise cannot fail it.
      const window = 20 * syncMs;
      const tooOld = lost.filter((r) => r.at < killedAt - window);
      assert.deepEqual(tooOld, [], `lost events answered more than ${window} ms before the kill`);
      const recent = answered.filter((r) => r.at >= killedAt - window).length;
      assert.ok(lost.length <= recent, `lost ${lost.length} <= ${recent} answered in the last ${window} ms`);
      console.log(
        `# kill -9: ${answered.length} answered, ${lost.length} lost (all within ${window} ms of the kill)`,
      );
      await second.cli.stop();
    });

  test("spool full: requests still succeed without an event id, drops are counted and logged", async () => {
    const serve = track(await startServe([`fraud=${modelFile()}`]));
    // a sink nobody listens on: nothing ships, so the small spool fills up
    const logger = track(
      await startLoggerCli([
        "--upstream",
        serve.url,
        "--sink",
        "http://127.0.0.1:9",
        "--spool-dir",
        tmp("spool"),
        "--spool-max-bytes",
        "4096",
        "--model",
        "fraud",
      ]),
    );
    const N = 40;
    let withId = 0;
    for (let i = 0; i < N; i++) {
      const r = await infer(logger.url, [[i, 1, 2]], `full-${i}`);
      assert.equal(r.status, 200, "requests keep flowing when the spool is full");
      if (r.eventId !== null) withId++;
    }
    let m = "";
    let dropped = 0;
    let spooled = 0;
    await eventually(
      async () => {
        m = await (await fetch(`${logger.url}/metrics`)).text();
        dropped = metricValue(m, "modelship_events_dropped_total", { reason: "spool_full" });
        spooled = metricValue(m, "modelship_events_total", { result: "spooled" });
        return dropped + spooled >= N ? true : undefined;
      },
      5_000,
      "every event spooled or counted as dropped",
    ).catch(() => undefined);
    assert.ok(dropped > 0, "drops are counted");
    assert.equal(dropped + spooled, N, "every event is either spooled or counted as dropped");
    assert.equal(withId, spooled, "only the spooled events' ids were given to clients");
    assert.ok(metricValue(m, "modelship_events_spool_bytes") <= 4096, "the spool stays within its bound");
    await logger.cli.waitForLog("Dropped inference events, spool is full (requests keep flowing)", 10_000);
    await logger.cli.stop();
  });
});
