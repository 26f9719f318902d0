import assert from "node:assert/strict";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { after, test } from "node:test";
import { createLogger } from "../platform/log.js";
import { createRegistry } from "../platform/metrics.js";
import { TokenFile } from "../collector/auth.js";
import { CollectorServer } from "../collector/server.js";
import { EventStore } from "../collector/store.js";
import { testEvent } from "../collector/testing/events.js";
import { createSink, FileSink, RejectedBatchError, StdoutSink } from "./sink.js";
import { exportEvents, tmp } from "../testing/procs.js";

const log = createLogger({ name: "test", level: "silent" });

const line = (id: string, time: string, subject = "fraud") =>
  JSON.stringify({ id, subject, time, specversion: "1.0" });

test("the file sink writes NDJSON partitioned by model, date and hour", async () => {
  const dir = tmp("filesink");
  const sink = new FileSink(dir, log);
  await sink.send([
    line("1", "2026-05-01T07:59:00Z"),
    line("2", "2026-05-01T08:00:00Z"),
    line("3", "2026-05-01T08:01:00Z"),
  ]);
  await sink.close();
  const h7 = join(dir, "fraud", "2026-05-01", "07");
  const h8 = join(dir, "fraud", "2026-05-01", "08");
  const read = (d: string) =>
    readdirSync(d).flatMap((f) =>
      readFileSync(join(d, f), "utf8")
        .trim()
        .split("\n")
        .map((l) => (JSON.parse(l) as { id: string }).id),
    );
  assert.deepEqual(read(h7), ["1"]);
  assert.deepEqual(read(h8), ["2", "3"]);
});

test("the stdout sink writes one event per line", async () => {
  const out = new PassThrough();
  let text = "";
  out.on("data", (c: Buffer) => (text += c.toString()));
  await new StdoutSink(out).send(['{"a":1}', '{"b":2}']);
  assert.equal(text, '{"a":1}\n{"b":2}\n');
});

test("--sink is chosen by scheme; bad values are named", () => {
  assert.equal(createSink("stdout:", log).name, "stdout");
  assert.equal(createSink(`file://${tmp("filesink")}`, log).name, "file");
  assert.equal(createSink("http://collector:9090", log).name, "http");
  assert.throws(() => createSink("collector:9090x", log), /--sink "collector:9090x" has an unknown scheme/);
  assert.throws(() => createSink("nonsense", log), /--sink "nonsense" is not a URL/);
  assert.throws(() => createSink("file:///", log), /needs a directory/);
});

const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

/** A collector on loopback that wants `token`, read from its own file. */
async function collectorWithToken(token: string) {
  const dir = tmp("collector");
  const file = join(tmp("tokens"), "token");
  writeFileSync(file, token);
  const store = new EventStore({ dir, log });
  const auth = await TokenFile.open(file, log);
  const server = new CollectorServer({
    store,
    registry: createRegistry("collector", { defaultMetrics: false }),
    log,
    auth,
  });
  const url = await server.listen(0, "127.0.0.1");
  closers.push(async () => {
    await server.close();
    auth.close();
    await store.close();
  });
  return url;
}

test("the http sink sends the token file's bearer token, read again for every batch", async () => {
  const url = await collectorWithToken("s3cret");
  const tokenFile = join(tmp("sink-token"), "token");
  writeFileSync(tokenFile, "s3cret\n");
  const sink = createSink(url, log, { tokenFile });
  closers.push(() => sink.close());
  const line = (id: string) => JSON.stringify(testEvent(id, new Date()));
  await sink.send([line("k1")]);

  // a token mid-rotation is retried, never dropped: 401 is not a RejectedBatchError
  writeFileSync(tokenFile, "rotated\n");
  const err = await sink.send([line("k2")]).then(
    () => undefined,
    (e: Error) => e,
  );
  assert.ok(err instanceof Error && !(err instanceof RejectedBatchError), String(err));
  assert.match(err.message, /collector answered 401: .*invalid bearer token.* \(check the sink token file\)/);
  rmSync(tokenFile);
  await assert.rejects(sink.send([line("k2")]), (e: Error) => {
    assert.ok(!(e instanceof RejectedBatchError));
    return /cannot read token file/.test(e.message);
  });
  writeFileSync(tokenFile, "s3cret\n");
  await sink.send([line("k2")]);

  const read = await fetch(`${url}/v1/events?model=fraud`, { headers: { authorization: "Bearer s3cret" } });
  assert.deepEqual(
    (await read.text())
      .trim()
      .split("\n")
      .map((l) => (JSON.parse(l) as { id: string }).id),
    ["k1", "k2"],
  );
  await assert.rejects(exportEvents(url, "fraud"), /401/);
});

test("without a token file the http sink sends no Authorization header, and a 401 says so", async () => {
  const url = await collectorWithToken("s3cret");
  const sink = createSink(url, log);
  closers.push(() => sink.close());
  await assert.rejects(
    sink.send([JSON.stringify(testEvent("n1", new Date()))]),
    /collector answered 401: .*missing bearer token/,
  );
});
