import { test } from "node:test";
import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import { findTooDeep } from "./json-depth.js";

const at = (text: string, limit: number) => findTooDeep(Buffer.from(text), limit);

test("depth counts brackets and braces, outside strings only", () => {
  const cases: [string, number, number][] = [
    // text, limit, expected offset (-1 = within the limit)
    ["[]", 1, -1],
    ["[[]]", 1, 1],
    ['{"a":[1,[2]]}', 3, -1],
    ['{"a":[1,[2]]}', 2, 8],
    ["[[],[],[],[]]", 2, -1],
    ['["[[[[[[", "{{{{"]', 1, -1],
    // An escaped quote does not end the string; an escaped backslash before a quote does.
    ['["a\\"[[[[", 1]', 1, -1],
    ['["a\\\\", [[1]]]', 2, 9],
    ['["\\\\\\"[[["]', 1, -1],
    // Unterminated strings and stray closers are left for JSON.parse to refuse.
    ['["[[[[', 1, -1],
    ["]]]][[", 1, 5],
    ["", 1, -1],
    ["123", 0, -1],
  ];
  // Small bodies take the byte loop, large ones the indexOf jumps: the same answers from both.
  const pad = " ".repeat(2000);
  for (const [text, limit, want] of cases) {
    assert.equal(at(text, limit), want, text);
    assert.equal(at(pad + text, limit), want === -1 ? -1 : want + pad.length, `padded ${text}`);
  }
});

test("a deep body is refused at the first byte past the limit, without walking the rest", () => {
  const deep = Buffer.from("[".repeat(4_000_000) + "]".repeat(4_000_000));
  const t0 = performance.now();
  assert.equal(findTooDeep(deep, 64), 64);
  assert.ok(performance.now() - t0 < 50);
  // Deep nesting inside a field the protocol ignores costs the same.
  const hidden = Buffer.from(`{"inputs":[],"junk":${"{".repeat(100_000)}`);
  assert.equal(findTooDeep(hidden, 64), 20 + 63);
});

test("a typical tensor body scans far faster than it parses", () => {
  const data = Array.from({ length: 256 }, (_, i) => Math.fround(Math.sin(i)));
  const body = Buffer.from(
    JSON.stringify({ inputs: [{ name: "input", datatype: "FP32", shape: [1, 256], data }] }),
  );
  const time = (fn: () => void) => {
    const t0 = performance.now();
    for (let i = 0; i < 2000; i++) fn();
    return performance.now() - t0;
  };
  // Warm both up first so the comparison is between optimised code.
  time(() => findTooDeep(body, 64));
  time(() => JSON.parse(body.toString()));
  const scan = time(() => findTooDeep(body, 64));
  const parse = time(() => JSON.parse(body.toString()));
  assert.ok(scan < parse / 2, `scan ${scan.toFixed(1)} ms vs parse ${parse.toFixed(1)} ms`);
});
