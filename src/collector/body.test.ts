import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { test } from "node:test";
import { readBatch, type BodyLimits } from "./body.js";

const limits: BodyLimits = { maxRequestBytes: 1000, maxEventBytes: 20 };

/** A body arriving in the given pieces, so line and limit handling across chunk edges is exercised. */
function body(...pieces: string[]): Readable {
  return Readable.from(pieces.map((p) => Buffer.from(p)));
}

/** Every way to cut text into two or three chunks. */
function* splits(text: string): Generator<string[]> {
  yield [text];
  for (let i = 1; i < text.length; i++) {
    yield [text.slice(0, i), text.slice(i)];
    for (let j = i + 1; j < text.length; j += 3) yield [text.slice(0, i), text.slice(i, j), text.slice(j)];
  }
}

test("NDJSON lines are split wherever the chunks end; blank lines are not events", async () => {
  const text = '{"a":1}\n\n{"b":2}\r\n  \n{"c":3}';
  for (const pieces of splits(text)) {
    assert.deepEqual(
      await readBatch(body(...pieces), limits),
      { kind: "ok", lines: ['{"a":1}', '{"b":2}\r', '{"c":3}'], oversized: [] },
      JSON.stringify(pieces),
    );
  }
});

test("an event over maxEventBytes is left out and named by its position; its neighbours stay", async () => {
  const big = `{"x":"${"y".repeat(30)}"}`;
  const text = `{"a":1}\n\n${big}\n{"b":2}\n${big}`;
  for (const pieces of splits(text)) {
    assert.deepEqual(
      await readBatch(body(...pieces), limits),
      {
        kind: "ok",
        lines: ['{"a":1}', '{"b":2}'],
        oversized: [
          { index: 2, bytes: big.length },
          { index: 4, bytes: big.length },
        ],
      },
      JSON.stringify(pieces),
    );
  }
});

test("an event of exactly maxEventBytes is kept", async () => {
  const exact = `{"x":"${"y".repeat(12)}"}`;
  assert.equal(exact.length, 20);
  assert.deepEqual(await readBatch(body(exact + "\n"), limits), {
    kind: "ok",
    lines: [exact],
    oversized: [],
  });
});

test("a body over maxRequestBytes stops being read at the chunk that crosses the limit", async () => {
  let pulled = 0;
  const source = Readable.from(
    (function* () {
      for (let i = 0; i < 100; i++) {
        pulled++;
        yield Buffer.from('{"a":1}\n'.repeat(25)); // 200 bytes
      }
    })(),
  );
  const r = await readBatch(source, limits);
  assert.deepEqual(r, { kind: "too_large", readBytes: 1000 + 200 });
  assert.ok(pulled <= 8, `read ${pulled} chunks of 100`);
  assert.equal(source.destroyed, false, "the stream is left open for the answer");
});

test("a JSON array body: elements over maxEventBytes are left out; a broken array is bad", async () => {
  const big = { x: "y".repeat(30) };
  assert.deepEqual(await readBatch(body("  [", '{"a":1},', JSON.stringify(big), ',{"b":2}]'), limits), {
    kind: "ok",
    lines: ['{"a":1}', '{"b":2}'],
    oversized: [{ index: 2, bytes: JSON.stringify(big).length }],
  });
  assert.equal((await readBatch(body("[1,"), limits)).kind, "bad");
  assert.equal((await readBatch(body(" \n", "[1,2]"), limits)).kind, "ok");
});
