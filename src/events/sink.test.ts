import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { createLogger } from "../platform/log.js";
import { createSink, FileSink, StdoutSink } from "./sink.js";
import { tmp } from "../testing/procs.js";

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
