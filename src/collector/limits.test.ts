// The collector as a process under hostile load: oversized bodies and events, more requests than it
// takes at once. Issue #16: three 50 MB events took the old collector to 820 MB RSS against 512Mi.
import assert from "node:assert/strict";
import { request } from "node:http";
import { after, test } from "node:test";
import { exportEvents, metricValue, startCli, startCollectorCli, tmp, type Cli } from "../testing/procs.js";
import { ndjson, peakRss, postEvents, testEvent } from "./testing/events.js";

const MiB = 1024 * 1024;
const clis: Cli[] = [];
after(async () => {
  for (const c of clis) await c.stop();
});

async function collector(extra: string[] = []) {
  const c = await startCollectorCli(tmp("limits"), 0, extra);
  clis.push(c.cli);
  return c;
}

test("Given three 50 MB events sent at once, Then each is refused with 413 and the collector's peak RSS stays bounded", async () => {
  const { cli, url } = await collector();
  const before = peakRss(cli.child.pid!);
  const now = new Date();
  const big = (id: string) => Buffer.from(ndjson([testEvent(id, now, 50 * MiB)]));
  // two with Content-Length (refused before a byte is read), one chunked (refused at the limit)
  const chunked = async function* (buf: Buffer) {
    for (let i = 0; i < buf.length; i += 256 * 1024) yield buf.subarray(i, i + 256 * 1024);
  };
  const answers = await Promise.all([
    postEvents(url, big("b1")),
    postEvents(url, big("b2")),
    postEvents(url, chunked(big("b3"))),
  ]);
  for (const a of answers) {
    assert.equal(a.status, 413);
    assert.match(String(a.body.error), /batch larger than 16777216 bytes/);
  }
  const peak = peakRss(cli.child.pid!);
  // The old collector peaked at 411 MB refusing these and 820 MB storing them; the start alone is ~100 MB.
  assert.ok(
    peak < 256 * MiB,
    `peak RSS ${(peak / MiB).toFixed(0)} MiB (${(before / MiB).toFixed(0)} MiB at start)`,
  );
  assert.deepEqual(await exportEvents(url, "fraud"), []);
  // the connection was not poisoned: a normal batch still goes through
  assert.equal((await postEvents(url, ndjson([testEvent("ok1", now)]))).status, 200);
});

test("Given a batch with one event over --max-event-bytes, Then its neighbours are stored and the big one is named", async () => {
  const { url } = await collector(["--max-event-bytes", String(4 * MiB)]);
  const now = new Date();
  const r = await postEvents(
    url,
    ndjson([testEvent("n1", now), testEvent("huge", now, 5 * MiB), testEvent("n2", now)]),
  );
  assert.equal(r.status, 200, "a 4xx would make the sender drop the valid events too");
  assert.equal(r.body.accepted, 2);
  assert.equal(r.body.oversized, 1);
  assert.match(
    String((r.body.errors as string[])[0]),
    /^event 2 is \d+ bytes, over the collector's limit of 4194304$/,
  );
  assert.deepEqual(
    (await exportEvents(url, "fraud")).map((e) => e.id),
    ["n1", "n2"],
  );
  const only = await postEvents(url, ndjson([testEvent("huge2", now, 5 * MiB)]));
  assert.equal(only.status, 400, "nothing in it can ever be stored: the sender drops it");
  assert.equal(only.body.oversized, 1);
});

test("Given --max-concurrent-requests 1 and a request in progress, Then another API request gets 503 with Retry-After, and probes still answer", async () => {
  const { url } = await collector(["--max-concurrent-requests", "1"]);
  const u = new URL(`${url}/v1/events`);
  // a batch whose body is still arriving holds the only slot
  const slow = request({ host: u.hostname, port: u.port, path: u.pathname, method: "POST" });
  const answered = new Promise<number>((resolve, reject) => {
    slow.on("response", (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    slow.on("error", reject);
  });
  slow.write(JSON.stringify(testEvent("s1", new Date())));
  await new Promise((r) => setTimeout(r, 300));

  const busy = await fetch(`${url}/v1/models`);
  assert.equal(busy.status, 503);
  assert.equal(busy.headers.get("retry-after"), "1");
  assert.match(await busy.text(), /collector busy/);
  assert.equal((await fetch(`${url}/healthz`)).status, 200);
  const metrics = await (await fetch(`${url}/metrics`)).text();
  assert.equal(metricValue(metrics, "modelship_collector_requests_rejected_total", { reason: "busy" }), 1);

  slow.end("\n");
  assert.equal(await answered, 200);
  assert.equal((await fetch(`${url}/v1/models`)).status, 200, "the slot is free again");
});

test("--max-event-bytes above --max-request-bytes is a usage error", async () => {
  const cli = startCli([
    "collector",
    "--data-dir",
    tmp("limits"),
    "--max-request-bytes",
    "2048",
    "--max-event-bytes",
    "4096",
  ]);
  assert.equal(await cli.exited, 2);
});
