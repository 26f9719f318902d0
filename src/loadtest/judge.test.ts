import assert from "node:assert/strict";
import { test } from "node:test";
import type { LoadTestFigures } from "../api/v1alpha1/index.js";
import { comparesWithStable, fmt, judge } from "./judge.js";

const f = (over: Partial<LoadTestFigures> = {}): LoadTestFigures => ({
  requests: 1000,
  errors: 0,
  errorRate: 0,
  p50Ms: 12,
  p99Ms: 180,
  memoryMiB: 300,
  pods: 2,
  ...over,
});

test("fmt: three significant digits, whole numbers from 100", () => {
  const cases: [number, string][] = [
    [312.4, "312"],
    [31.25, "31.3"],
    [4.2, "4.2"],
    [0.0123, "0.0123"],
    [0.001, "0.001"],
    [250, "250"],
    [0, "0"],
  ];
  for (const [x, want] of cases) assert.equal(fmt(x), want, String(x));
});

test("judge: each threshold against its figure, failures named with the figure and the limit", () => {
  const cases: [
    string,
    Parameters<typeof judge>[0],
    LoadTestFigures,
    LoadTestFigures | undefined,
    string[],
  ][] = [
    [
      "all within",
      { maxP99Ms: 250, maxP50Ms: 20, maxErrorRate: 0.01, maxMemoryMiB: 512 },
      f(),
      undefined,
      [],
    ],
    ["p99 over", { maxP99Ms: 250 }, f({ p99Ms: 312 }), undefined, ["candidate p99 312 ms > maxP99Ms 250"]],
    ["p99 at the limit passes", { maxP99Ms: 180 }, f(), undefined, []],
    ["p50 over", { maxP50Ms: 10 }, f(), undefined, ["candidate p50 12 ms > maxP50Ms 10"]],
    [
      "error rate over",
      { maxErrorRate: 0.01 },
      f({ errors: 25, errorRate: 0.025 }),
      undefined,
      ["candidate error rate 0.025 > maxErrorRate 0.01"],
    ],
    ["memory over", { maxMemoryMiB: 256 }, f(), undefined, ["candidate memory 300 MiB > maxMemoryMiB 256"]],
    [
      "nothing answered: latency not measured fails",
      { maxP99Ms: 250, maxErrorRate: 1 },
      f({ p50Ms: undefined, p99Ms: undefined, errors: 1000, errorRate: 1 }),
      undefined,
      ["candidate p99 not measured (no request was answered) but maxP99Ms is 250"],
    ],
    [
      "no memory metric (a custom container) fails a memory limit",
      { maxMemoryMiB: 256 },
      f({ memoryMiB: undefined, pods: undefined }),
      undefined,
      [
        "candidate memory not measured (no modelship_process_process_resident_memory_bytes on its pods' /metrics) but maxMemoryMiB is 256",
      ],
    ],
    ["p99 within 1.5x stable", { maxP99RatioToStable: 1.5 }, f(), f({ p99Ms: 150 }), []],
    [
      "p99 over 1.5x stable",
      { maxP99RatioToStable: 1.5 },
      f(),
      f({ p99Ms: 100 }),
      ["candidate p99 180 ms > maxP99RatioToStable 1.5 x stable's 100 ms"],
    ],
    [
      "memory over 1.2x stable",
      { maxMemoryRatioToStable: 1.2 },
      f(),
      f({ memoryMiB: 200 }),
      ["candidate memory 300 MiB > maxMemoryRatioToStable 1.2 x stable's 200 MiB"],
    ],
    [
      "a ratio without stable's figure fails",
      { maxP99RatioToStable: 1.5 },
      f(),
      undefined,
      ["stable p99 not measured but maxP99RatioToStable is 1.5"],
    ],
    [
      "several at once, in a fixed order",
      { maxP99Ms: 100, maxErrorRate: 0, maxMemoryMiB: 100 },
      f({ errors: 1, errorRate: 0.001 }),
      undefined,
      [
        "candidate error rate 0.001 > maxErrorRate 0",
        "candidate p99 180 ms > maxP99Ms 100",
        "candidate memory 300 MiB > maxMemoryMiB 100",
      ],
    ],
  ];
  for (const [what, t, cand, stable, failures] of cases) {
    const v = judge(t, cand, stable);
    assert.deepEqual(v.failures, failures, what);
    assert.equal(v.verdict, failures.length ? "Failed" : "Passed", what);
    if (failures.length) assert.equal(v.message, failures.join("; "), what);
  }
});

test("judge: a pass says the figures of both sides", () => {
  assert.equal(
    judge({ maxP99RatioToStable: 2 }, f(), f({ p99Ms: 150, memoryMiB: 290.5 })).message,
    "candidate p50 12 ms, p99 180 ms, 0/1000 errors, memory 300 MiB; stable p50 12 ms, p99 150 ms, 0/1000 errors, memory 291 MiB",
  );
});

test("comparesWithStable: only a ratio threshold loads stable", () => {
  assert.equal(comparesWithStable({ maxP99Ms: 1, maxMemoryMiB: 1 }), false);
  assert.equal(comparesWithStable({ maxP99RatioToStable: 1.2 }), true);
  assert.equal(comparesWithStable({ maxMemoryRatioToStable: 1.2 }), true);
});
