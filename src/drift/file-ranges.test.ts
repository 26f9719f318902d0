import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { RangeReader, splitRanges } from "./file-ranges.js";

/** Reads a file through ranges of `rangeBytes` and returns the lines seen, in order. */
function readByRanges(file: string, size: number, rangeBytes: number, reader: RangeReader): string[] {
  const lines: string[] = [];
  let unterminated = 0;
  for (const r of splitRanges(file, size, rangeBytes))
    reader.read(r, (chunk) => {
      const text = chunk.toString("utf8");
      // Only the file's last line may lack a newline, so at most one chunk ends without one.
      if (!text.endsWith("\n")) assert.equal(++unterminated, 1, "a chunk ends on a line boundary");
      lines.push(...text.split("\n").filter((l) => l.length > 0));
    });
  return lines;
}

test("ranges cover every line exactly once, whatever the range size and line lengths", () => {
  const dir = mkdtempSync(join(tmpdir(), "ranges-"));
  try {
    const lines = Array.from({ length: 500 }, (_, i) => `{"i":${i},"pad":"${"x".repeat((i * 37) % 301)}"}`);
    for (const trailingNewline of [true, false]) {
      const text = lines.join("\n") + (trailingNewline ? "\n" : "");
      const file = join(dir, `e-${trailingNewline}.ndjson`);
      writeFileSync(file, text);
      const size = Buffer.byteLength(text);
      for (const rangeBytes of [1, 2, 7, 64, 300, 301, 302, 4096, size, size + 10]) {
        const got = readByRanges(file, size, rangeBytes, new RangeReader());
        assert.deepEqual(got, lines, `range size ${rangeBytes}, trailing newline ${trailingNewline}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a line longer than the read buffer is read whole", () => {
  const dir = mkdtempSync(join(tmpdir(), "ranges-"));
  try {
    const long = `{"big":"${"y".repeat(9 << 20)}"}`;
    const lines = ['{"a":1}', long, '{"b":2}'];
    const text = lines.join("\n") + "\n";
    const file = join(dir, "long.ndjson");
    writeFileSync(file, text);
    const size = Buffer.byteLength(text);
    for (const rangeBytes of [3 << 20, size])
      assert.deepEqual(readByRanges(file, size, rangeBytes, new RangeReader()), lines);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
