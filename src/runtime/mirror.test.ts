// The shadow copier on real HTTP: a real node:http shadow that counts, stalls or fails.
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { SHADOW_HEADER } from "../events/constants.js";
import { createLogger } from "../platform/log.js";
import { createRegistry } from "../platform/metrics.js";
import { tempDir } from "../testing/onnx/builders.js";
import { Mirror, MirrorFile, parseMirrorTarget } from "./mirror.js";

const log = createLogger({ name: "serve", level: "silent" });
const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

/** A shadow that records what it got; `stall` leaves requests unanswered. */
async function shadow(
  stall = false,
): Promise<{ url: string; got: { req: IncomingMessage; body: string }[] }> {
  const got: { req: IncomingMessage; body: string }[] = [];
  const s: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      got.push({ req, body });
      if (!stall) res.end("{}");
    });
  });
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  closers.push(() => new Promise((r) => (s.closeAllConnections(), s.close(() => r()))));
  return { url: `http://127.0.0.1:${(s.address() as { port: number }).port}`, got };
}

/** A client request as node:http hands it to serve, from a real connection to a real server. */
async function incoming(headers: Record<string, string> = {}): Promise<IncomingMessage> {
  return new Promise((resolve) => {
    const s = createServer((req, res) => {
      resolve(req);
      res.end();
      s.close();
    });
    s.listen(0, "127.0.0.1", () => {
      void fetch(`http://127.0.0.1:${(s.address() as { port: number }).port}/v2/models/m/infer`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-request-id": "r-1", ...headers },
        body: "{}",
      });
    });
  });
}

const until = async (what: string, ok: () => boolean) => {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(ok(), what);
};

const metric = async (reg: ReturnType<typeof createRegistry>, result: string) =>
  (await reg.getSingleMetric("modelship_mirror_copies_total")!.get()).values.find(
    (v) => v.labels.result === result,
  )?.value ?? 0;

test("Given a mirror target text, Then url and percent are checked, each error naming the field", () => {
  assert.deepEqual(parseMirrorTarget('{"url":"http://iris-canary.ns.svc:8080","percent":50}'), {
    url: "http://iris-canary.ns.svc:8080",
    percent: 50,
  });
  assert.equal(parseMirrorTarget(" \n"), undefined);
  assert.throws(() => parseMirrorTarget("{"), /must be JSON like/);
  assert.throws(
    () => parseMirrorTarget('{"url":"http://x:1","percent":0}'),
    /percent must be an integer from 1 to 100, got 0/,
  );
  assert.throws(() => parseMirrorTarget('{"url":"http://x:1","percent":"50"}'), /percent must be an integer/);
  assert.throws(
    () => parseMirrorTarget('{"url":"ftp://x","percent":5}'),
    /url must be http:\/\/host\[:port\]/,
  );
  assert.throws(() => parseMirrorTarget('{"url":"http://x/v2","percent":5}'), /with no path/);
  assert.throws(() => parseMirrorTarget('{"percent":5}'), /url must be an http URL/);
});

test("Given 50%, Then about half the requests are copied with the client's path, body and headers, marked as shadow copies", async () => {
  const sh = await shadow();
  const reg = createRegistry("serve", { defaultMetrics: false });
  const m = new Mirror({ maxInflight: 64, timeoutMs: 2_000, registry: reg, log });
  closers.push(() => m.close());
  m.setTarget({ url: sh.url, percent: 50 });
  const req = await incoming();
  const n = 2_000;
  for (let i = 0; i < n; i++) {
    m.copy(req, Buffer.from(`{"i":${i}}`), `e-${i}`);
    if (m.inFlight >= 48) await until("copies drain", () => m.inFlight < 16);
  }
  await until("every copy answered", () => m.inFlight === 0);
  // 99.9% binomial interval around n/2: +-3.29 standard deviations
  const half = n / 2;
  const sd = Math.sqrt(n * 0.25);
  assert.ok(Math.abs(sh.got.length - half) <= 3.29 * sd, `${sh.got.length} copies of ${n}`);
  assert.equal(await metric(reg, "answered"), sh.got.length);
  const first = sh.got[0]!;
  assert.equal(first.req.url, "/v2/models/m/infer");
  assert.equal(first.req.headers["x-request-id"], "r-1");
  assert.match(String(first.req.headers[SHADOW_HEADER]), /^e-\d+$/);
  assert.equal(first.body, `{"i":${first.req.headers[SHADOW_HEADER]!.toString().slice(2)}}`);
});

test("Given a shadow that never answers, Then copies time out, at most maxInflight wait, the rest are skipped", async () => {
  const sh = await shadow(true);
  const reg = createRegistry("serve", { defaultMetrics: false });
  const m = new Mirror({ maxInflight: 4, timeoutMs: 300, registry: reg, log });
  closers.push(() => m.close());
  m.setTarget({ url: sh.url, percent: 100 });
  const req = await incoming();
  const t0 = performance.now();
  for (let i = 0; i < 10; i++) m.copy(req, Buffer.from("{}"), undefined);
  // copy() returns at once whatever the shadow does
  assert.ok(performance.now() - t0 < 250, "copy() does not wait for the shadow");
  assert.equal(m.inFlight, 4);
  assert.equal(await metric(reg, "skipped"), 6);
  await until("the stalled copies time out", () => m.inFlight === 0);
  assert.equal(await metric(reg, "timeout"), 4);
  assert.equal(sh.got[0]!.req.headers[SHADOW_HEADER], "-");
});

test("Given a request that is a shadow copy already, Then it is never copied again", async () => {
  const sh = await shadow();
  const m = new Mirror({
    maxInflight: 4,
    timeoutMs: 1_000,
    registry: createRegistry("serve", { defaultMetrics: false }),
    log,
  });
  closers.push(() => m.close());
  m.setTarget({ url: sh.url, percent: 100 });
  m.copy(await incoming({ [SHADOW_HEADER]: "e-1" }), Buffer.from("{}"), "e-2");
  assert.equal(m.inFlight, 0);
});

test("Given a mirror file, When it changes, Then the target follows; a bad file turns mirroring off", async () => {
  const dir = tempDir("modelship-mirror-");
  const file = join(dir, "rev.mirror");
  const m = new Mirror({
    maxInflight: 4,
    timeoutMs: 1_000,
    registry: createRegistry("serve", { defaultMetrics: false }),
    log,
  });
  closers.push(() => m.close());
  const watch = new MirrorFile(file, m, log);
  await watch.start(60_000);
  closers.push(async () => watch.stop());
  assert.equal(m.target, undefined, "no file: no mirroring");
  writeFileSync(file, '{"url":"http://shadow:8080","percent":25}');
  await watch.read();
  assert.deepEqual(m.target, { url: "http://shadow:8080", percent: 25 });
  writeFileSync(file, '{"url":"http://shadow:8080","percent":101}');
  await watch.read();
  assert.equal(m.target, undefined);
  writeFileSync(file, "");
  await watch.read();
  assert.equal(m.target, undefined);
});
