import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { request } from "undici";
import { DirTarget, type ArchiveTarget } from "../events/archive-target.js";
import { tmp } from "../testing/procs.js";
import { createLogger } from "../platform/log.js";
import { createRegistry } from "../platform/metrics.js";
import { ReportStore, REPORTS_DIR, reportHeader } from "./reports.js";
import { CollectorServer } from "./server.js";
import { EventStore } from "./store.js";

const log = createLogger({ name: "test", level: "silent" });
const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

function report(model: string, generatedAt: string, verdict = "drift") {
  return JSON.stringify({
    apiVersion: "modelship.io/v1alpha1",
    kind: "DriftReport",
    model,
    generatedAt,
    verdict,
  });
}

async function start(dir: string, shared?: ArchiveTarget) {
  const store = new EventStore({ dir, log });
  const server = new CollectorServer({
    store,
    registry: createRegistry("collector", { defaultMetrics: false }),
    log,
    reports: new ReportStore(dir, 3, shared),
  });
  const url = await server.listen(0, "127.0.0.1");
  closers.push(async () => {
    await server.close();
    await store.close();
  });
  return url;
}

async function call(method: "GET" | "POST", url: string, body?: string) {
  const r = await request(url, { method, body });
  return { status: r.statusCode, headers: r.headers, text: await r.body.text() };
}

test("drift reports: stored over HTTP, listed newest first, fetched by id or latest, the oldest pruned", async () => {
  const dir = tmp("reports");
  const url = await start(dir);
  const ids: string[] = [];
  for (const [i, v] of (["ok", "drift", "ok", "error"] as const).entries()) {
    const r = await call("POST", `${url}/v1/reports`, report("fraud", `2026-01-01T0${i}:00:00.000Z`, v));
    assert.equal(r.status, 201, r.text);
    const body = JSON.parse(r.text) as { model: string; id: string; path: string };
    assert.equal(r.headers.location, body.path);
    assert.equal(body.path, `/v1/reports/fraud/${body.id}`);
    ids.push(body.id);
  }
  const list = JSON.parse((await call("GET", `${url}/v1/reports/fraud`)).text) as {
    reports: { id: string; generatedAt: string; verdict: string }[];
  };
  // Three kept (this store keeps 3), newest first; the first one was pruned from disk too.
  assert.deepEqual(
    list.reports.map((r) => [r.generatedAt, r.verdict]),
    [
      ["2026-01-01T03:00:00.000Z", "error"],
      ["2026-01-01T02:00:00.000Z", "ok"],
      ["2026-01-01T01:00:00.000Z", "drift"],
    ],
  );
  assert.equal(readdirSync(join(dir, REPORTS_DIR, "fraud")).length, 3);
  const latest = await call("GET", `${url}/v1/reports/fraud/latest`);
  assert.equal(JSON.parse(latest.text).generatedAt, "2026-01-01T03:00:00.000Z");
  const byId = await call("GET", `${url}/v1/reports/fraud/${ids[1]}`);
  assert.equal(JSON.parse(byId.text).verdict, "drift");
  assert.equal((await call("GET", `${url}/v1/reports/fraud/${ids[0]}`)).status, 404);
  assert.equal((await call("GET", `${url}/v1/reports/other/latest`)).status, 404);
  assert.deepEqual(JSON.parse((await call("GET", `${url}/v1/reports/other`)).text).reports, []);
  // Reports are not a model: the events' model list leaves their directory out.
  assert.deepEqual(JSON.parse((await call("GET", `${url}/v1/models`)).text).models, []);
});

test("drift reports: anything but a drift report is a 400 naming the field", async () => {
  const url = await start(tmp("reports-bad"));
  for (const [body, want] of [
    ["{not json", /not JSON/],
    [JSON.stringify({ kind: "Other" }), /DriftReport/],
    [JSON.stringify({ kind: "DriftReport", model: "", generatedAt: "x", verdict: "ok" }), /report\.model/],
    [
      JSON.stringify({ kind: "DriftReport", model: "m", generatedAt: "yesterday", verdict: "ok" }),
      /generatedAt/,
    ],
    [
      JSON.stringify({
        kind: "DriftReport",
        model: "m",
        generatedAt: "2026-01-01T00:00:00Z",
        verdict: "meh",
      }),
      /verdict/,
    ],
  ] as const) {
    const r = await call("POST", `${url}/v1/reports`, body);
    assert.equal(r.status, 400);
    assert.match(JSON.parse(r.text).error, want);
  }
  assert.throws(() => reportHeader("[]"), /DriftReport/);
});

test("two collectors sharing an archive: a report stored by one is listed and served by the other; the shared copies are pruned too", async () => {
  const archive = new DirTarget(tmp("reports-archive"));
  const [a, b] = [await start(tmp("reports-a"), archive), await start(tmp("reports-b"), archive)];
  const lone = await start(tmp("reports-lone"));
  const ids: string[] = [];
  for (const [i, v] of (["ok", "drift", "ok", "drift"] as const).entries()) {
    const r = await call(
      "POST",
      `${i % 2 ? a : b}/v1/reports`,
      report("fraud", `2026-01-01T0${i}:00:00.000Z`, v),
    );
    assert.equal(r.status, 201, r.text);
    ids.push((JSON.parse(r.text) as { id: string }).id);
  }
  const body = (i: number) =>
    report("fraud", `2026-01-01T0${i}:00:00.000Z`, ["ok", "drift", "ok", "drift"][i]);
  for (const url of [a, b]) {
    const list = JSON.parse((await call("GET", `${url}/v1/reports/fraud`)).text) as {
      reports: { id: string }[];
    };
    assert.deepEqual(
      list.reports.map((r) => r.id),
      [ids[3], ids[2], ids[1]],
      "every collector's reports, newest first, the oldest pruned",
    );
    for (const i of [1, 2, 3]) {
      const got = await call("GET", `${url}/v1/reports/fraud/${ids[i]}`);
      assert.equal(got.status, 200);
      assert.equal(got.text, body(i), `${url} serves report ${i}, whoever stored it`);
    }
    assert.equal((await call("GET", `${url}/v1/reports/fraud/latest`)).text, body(3));
  }
  assert.deepEqual(
    (await archive.list("reports/")).map((k) => k.replace(/^reports\/fraud\//, "").slice(0, -".json".length)),
    [`${ids[1]}_drift`, `${ids[2]}_ok`, `${ids[3]}_drift`],
  );
  assert.equal(
    (await call("GET", `${lone}/v1/reports/fraud/${ids[3]}`)).status,
    404,
    "without the archive, no sharing",
  );
});
