// The fast scanner must agree with the reference path (JSON.parse + zod) on every line it accepts and
// hand back everything it does not understand: both paths over the same lines give the same state.
import assert from "node:assert/strict";
import { test } from "node:test";
import { buildBaseline } from "./baseline-builder.js";
import { ChunkProcessor } from "./process.js";
import { parseTime } from "./scanner.js";
import { WindowState } from "./window.js";

const T = "2026-01-01T00:30:00.000Z";

function event(data: Record<string, unknown>, envelope: Record<string, unknown> = {}): string {
  return JSON.stringify({
    specversion: "1.0",
    id: envelope.id ?? `id-${Math.random()}`,
    source: "modelship/ns/m/r1",
    subject: "m",
    type: "io.modelship.inference.v1",
    time: T,
    datacontenttype: "application/json",
    ...envelope,
    data: {
      model: { name: "m", version: "1" },
      revision: "r1",
      variant: "stable",
      path: "/v2/models/m/infer",
      request: {
        inputs: [{ name: "x", shape: [1, 2], datatype: "FP32", data: [1.5, 2] }],
        parameters: { note: 'a "quoted" }{][ string' },
      },
      status: 200,
      latencyMs: 2.5,
      headers: { "x-request-id": "abc" },
      sampleRate: 1,
      fallback: false,
      ...data,
    },
  });
}

async function baseline() {
  const rows = Array.from({ length: 200 }, (_, i) => ({
    a: i / 10,
    b: (i % 7) * 1.5,
    c: ["x", "y", "z"][i % 3],
    d: i % 2 === 0,
    p: i / 200,
  }));
  return buildBaseline(
    async function* () {
      yield* rows;
    },
    { file: "t.jsonl", format: "jsonl" },
    { sampleSize: 100, bins: 5, topK: 10, predictionField: "p" },
  );
}

const lines = [
  event({ features: [{ a: 1.25, b: 3, c: "x", d: true }], predictions: [0.3] }),
  event({ features: [{ a: 1e-7, b: -0, c: "caf\u00e9", d: false }], predictions: [[0.7]] }),
  event({
    features: [{ a: 1.2345678901234567e19, b: 0.12345678901234568, c: 'say "hi"\n', d: null }],
    predictions: [[0.1, 0.9]],
  }),
  event({
    features: [
      { a: 1.5e3, b: 100, c: "y" },
      { a: null, c: "z", d: true, extra: 5 },
    ],
    predictions: [0.2, 0.8],
  }),
  event({ features: [{ a: "oops", b: true, c: 7, d: "yes", nested: { q: 1 } }] }),
  event({ features: [{ a: { v: 1 }, b: [1, 2], c: null, d: 1 }] }),
  event({ status: 500, error: { type: "model_error", message: "boom" } }),
  event({ features: [] }),
  event({ features: [{}] }),
  // Escaped key that decodes to a known feature name, and unicode in values.
  event({ features: [{ a: 2 }] }).replace('"a":2', '"\\u0061":2'),
  // Whitespace between tokens.
  JSON.stringify(
    JSON.parse(event({ features: [{ a: 3, b: 4, c: "x", d: false }], predictions: [1] })),
    null,
    1,
  ).replace(/\n/g, " "),
  // data before type/time: left to the slow path.
  JSON.stringify({
    data: JSON.parse(event({ features: [{ a: 9 }] })).data,
    specversion: "1.0",
    id: "late",
    source: "s",
    subject: "m",
    type: "io.modelship.inference.v1",
    time: T,
    datacontenttype: "application/json",
  }),
  // A duplicate key: JSON.parse keeps the last value.
  event({ features: [{ a: 1, b: 2 }] }).replace('"a":1', '"a":1,"a":5'),
  // Outside the window.
  event({ features: [{ a: 1 }] }, { time: "2025-01-01T00:00:00Z" }),
  // Feedback, another producer's type, broken lines.
  JSON.stringify({
    specversion: "1.0",
    id: "f1",
    source: "s",
    subject: "m",
    type: "io.modelship.feedback.v1",
    time: T,
    datacontenttype: "application/json",
    data: { eventId: "e1", groundTruth: 1, time: T },
  }),
  JSON.stringify({ specversion: "1.0", id: "o1", source: "s", type: "com.example.other", time: T, data: {} }),
  "{not json",
  // A leading zero is not JSON: both paths must call the line invalid.
  event({ features: [{ a: 1, b: 2, c: "x", d: true }] }).replace('"a":1', '"a":01'),
  event({ features: [{ a: 1, b: 2, c: "x", d: true }] }).slice(0, 150),
  "",
  "   ",
];

function run(validateEvery: number, state: WindowState) {
  const p = new ChunkProcessor(state, {
    since: Date.parse("2026-01-01T00:00:00Z"),
    until: Date.parse("2026-01-01T01:00:00Z"),
    validateFirst: 0,
    validateEvery,
  });
  p.processChunk(Buffer.from(lines.join("\n") + "\n"), "test");
  const s = state.state();
  return { ...s, counters: { ...s.counters, schemaChecked: 0 } };
}

test("fast scanner and JSON.parse + zod produce the same window state", async () => {
  const b = await baseline();
  const fast = run(1e12, new WindowState(b));
  const slow = run(1, new WindowState(b));
  assert.deepEqual(fast, slow);
  // And the state says what happened.
  assert.equal(slow.counters.events, 11);
  assert.equal(slow.counters.outsideWindow, 1);
  assert.equal(slow.counters.feedback, 1);
  assert.equal(slow.counters.otherTypes, 1);
  // Non-scalar feature values break the schema; so do the non-JSON, leading-zero and truncated lines.
  assert.equal(slow.counters.invalid, 5);
  assert.equal(slow.counters.failed, 1);
  assert.equal(slow.counters.withoutFeatures, 1);
  assert.deepEqual(Object.fromEntries(slow.unexpected), { extra: 1 });
  const a = slow.features.find((f) => f.name === "a")!;
  assert.equal(a.max, 1.2345678901234567e19);
  assert.equal(a.min, 1e-7);
  const c = slow.features.find((f) => f.name === "c")!;
  assert.deepEqual(new Map(c.categories).get('say "hi"\n'), 1);
  const d = slow.features.find((f) => f.name === "d")!;
  assert.equal(d.missing, 6);
  assert.equal(slow.prediction!.types.other, 1);
});

test("a line that breaks half-way leaves no partial counts behind", async () => {
  const b = await baseline();
  const state = new WindowState(b);
  const p = new ChunkProcessor(state, {
    since: 0,
    until: Date.parse("2027-01-01T00:00:00Z"),
    validateFirst: 0,
    validateEvery: 1e12,
  });
  // Valid up to the second row, then garbage: the fast path has journaled row 1 and must drop it.
  const broken = event({ features: [{ a: 1, b: 2, c: "x", d: true }, { a: 2 }] }).replace(
    '{"a":2}',
    '{"a":2,,}',
  );
  p.processChunk(Buffer.from(broken + "\n"));
  assert.equal(state.counters.invalid, 1);
  assert.equal(state.counters.rows, 0);
  assert.equal(state.features[0]!.count, 0);
});

test("parseTime reads RFC 3339 forms like Date.parse", () => {
  for (const s of [
    "2026-01-01T00:30:00.000Z",
    "2026-01-01T00:30:00Z",
    "2026-01-01T00:30:00.5Z",
    "2026-01-01T00:30:00.123456Z",
    "2026-01-01T02:30:00+02:00",
  ]) {
    assert.equal(parseTime(s), Date.parse(s), s);
  }
});

test("the scanner reads event times like Date.parse, including malformed ones", async () => {
  const b = await baseline();
  const since = Date.parse("2026-01-01T00:00:00Z");
  const until = Date.parse("2026-01-01T01:00:00Z");
  const times = [
    "2026-01-01T00:30:00.000Z",
    "2026-01-01T00:3a:00.000Z",
    "2026-13-01T00:30:00.000Z",
    "2026-01-01T00:59:59.999Z",
    "2026-01-01T00:30:00.5Z",
    "2026-01-01T02:30:00+02:00",
    "2026-01-01T01:00:00.000Z",
  ];
  for (const t of times) {
    const state = new WindowState(b);
    const p = new ChunkProcessor(state, { since, until, validateFirst: 0, validateEvery: 1e12 });
    p.processChunk(Buffer.from(event({ features: [{ a: 1 }] }, { time: t }) + "\n"));
    const ms = Date.parse(t);
    const c = state.counters;
    assert.equal(c.events + c.invalid + c.outsideWindow, 1, t);
    assert.equal(c.events, ms >= since && ms < until ? 1 : 0, t);
  }
});

test("rows read on the short path count once, whatever breaks after them or however many there are", async () => {
  const b = await baseline();
  const full = (i: number) => ({ a: i / 4, b: i % 5, c: ["x", "y"][i % 2], d: i % 3 === 0 });
  const more: string[] = [];
  // Complete rows in one key order teach the short path that order...
  for (let i = 0; i < 50; i++) more.push(event({ features: [full(i)], predictions: [i / 50] }));
  // ...then rows that leave it half-way: another key order, a number where a string goes, a duplicate.
  more.push(event({ features: [{ d: true, c: "x", b: 1, a: 2 }] }));
  more.push(event({ features: [{ a: 1, b: 2, c: 3, d: false }] }));
  more.push(event({ features: [{ a: 1, b: 2, c: "y", d: false }] }).replace('"d":false', '"a":7,"d":false'));
  // A line whose rows were read on the short path, broken after them: none of its numbers may count.
  more.push(
    event({ features: [full(1), full(2)], predictions: [0.1, 0.2] }).replace(
      '"predictions":[0.1,0.2]',
      '"predictions":[0.1,,0.2]',
    ),
  );
  // More rows in one line than a feature queue holds (2,048).
  more.push(event({ features: Array.from({ length: 3000 }, (_, i) => full(i)) }));
  const chunk = Buffer.from(more.join("\n") + "\n");
  const opts = { since: 0, until: Date.parse("2027-01-01T00:00:00Z"), validateFirst: 0 };
  const fast = new WindowState(b);
  new ChunkProcessor(fast, { ...opts, validateEvery: 1e12 }).processChunk(chunk);
  const slow = new WindowState(b);
  new ChunkProcessor(slow, { ...opts, validateEvery: 1 }).processChunk(chunk);
  const strip = (s: WindowState) => {
    const d = s.state();
    return { ...d, counters: { ...d.counters, schemaChecked: 0 } };
  };
  assert.deepEqual(strip(fast), strip(slow));
  // Only the broken line and the duplicate key (JSON.parse decides which value wins) took the slow path.
  assert.equal(fast.counters.schemaChecked, 2);
  assert.equal(slow.counters.invalid, 1);
  assert.equal(slow.counters.rows, 50 + 3 + 3000);
  assert.equal(slow.features[0]!.count, 50 + 3 + 3000);
});
