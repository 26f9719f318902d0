import assert from "node:assert/strict";
import { test } from "node:test";
import { ChunkedDecoder } from "./chunked.js";

const MESSAGE = "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nx-trailer: t\r\n\r\n";

test("decodes a chunked body fed whole, and says where the message ended", () => {
  const d = new ChunkedDecoder();
  const buf = Buffer.from(MESSAGE + "NEXT");
  assert.equal(d.push(buf), MESSAGE.length);
  assert.equal(d.body().toString(), "hello, world");
  assert.ok(d.done);
});

test("decodes the same body fed one byte at a time", () => {
  const d = new ChunkedDecoder();
  const buf = Buffer.from(MESSAGE);
  let end = -1;
  for (let i = 0; i < buf.length; i++) {
    end = d.push(buf.subarray(i, i + 1));
    if (i < buf.length - 1) assert.equal(end, -1);
  }
  assert.equal(end, 1);
  assert.equal(d.body().toString(), "hello, world");
});

test("malformed chunked bodies throw", () => {
  for (const text of ["zz\r\nhello\r\n", "5\r\nhelloXX", "5\nhello\r\n", `${"1".repeat(5000)}\r\n`]) {
    assert.throws(() => new ChunkedDecoder().push(Buffer.from(text)), /chunked body/, JSON.stringify(text));
  }
});
