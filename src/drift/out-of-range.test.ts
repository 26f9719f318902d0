// The default out-of-range limit follows the baseline's size: an honest control sample against a small
// training set is not flagged (two of 188 values outside is chance), a real shift still is, and the
// limit's false-alarm rate is what it claims, checked by simulation.
import assert from "node:assert/strict";
import { test } from "node:test";
import { buildBaseline } from "./baseline-builder.js";
import { DEFAULT_THRESHOLDS } from "./evaluate.js";
import { checkIntegrity, outOfRangeLimit } from "./integrity.js";
import { seededRandom } from "./values.js";
import { WindowState } from "./window.js";

test("outOfRangeLimit: beta-binomial quantile of the chance share, never below 1%", () => {
  // q = scipy.stats.betabinom.ppf(0.99, m, 2, n - 1), computed with scipy 1.17
  for (const [n, m, q] of [
    [188, 188, 8],
    [30, 40, 10],
    [150, 188, 10],
    [20, 1000, 291],
  ] as const)
    assert.equal(outOfRangeLimit(n, m), q / m, `n ${n}, m ${m}`);
  // n = m = 188: about 2 values fall outside by chance
  assert.ok(outOfRangeLimit(188, 188) > 2 / 188);
  // large baselines keep the old 1% default
  assert.equal(outOfRangeLimit(100_000, 188), 0.01);
  assert.equal(outOfRangeLimit(100_000, 1_000_000), 0.01);
  // smaller baselines, larger limits; one training value has no range to speak of
  assert.ok(outOfRangeLimit(20, 1000) > outOfRangeLimit(200, 1000));
  assert.equal(outOfRangeLimit(1, 100), 1);
  assert.equal(outOfRangeLimit(50, 0), 0.01);
});

test("outOfRangeLimit holds its 1% false-alarm rate: simulated honest windows", () => {
  const rand = seededRandom(11);
  for (const [n, m] of [
    [30, 40],
    [150, 188],
  ] as const) {
    const limit = outOfRangeLimit(n, m);
    let alarms = 0;
    const trials = 20_000;
    for (let t = 0; t < trials; t++) {
      let lo = Infinity;
      let hi = -Infinity;
      for (let i = 0; i < n; i++) {
        const x = rand();
        if (x < lo) lo = x;
        if (x > hi) hi = x;
      }
      let out = 0;
      for (let i = 0; i < m; i++) {
        const x = rand();
        if (x < lo || x > hi) out++;
      }
      if (out / m > limit) alarms++;
    }
    assert.ok(alarms / trials <= 0.0125, `n ${n}, m ${m}: ${alarms} alarms in ${trials}`);
    // and it is not a loose bound: the 1% floor aside, the limit sits near the 99th percentile
    assert.ok(alarms / trials >= 0.003, `n ${n}, m ${m}: ${alarms} alarms in ${trials}`);
  }
});

async function integrityOf(train: number[], window: number[], outOfRangeRate?: number) {
  const baseline = await buildBaseline(
    async function* () {
      for (const x of train) yield { x };
    },
    { file: "train.jsonl", format: "jsonl" },
    { sampleSize: 1000, bins: 10, topK: 10 },
  );
  const state = new WindowState(baseline);
  for (const x of window) state.addRow({ x });
  state.flushNumbers();
  return checkIntegrity(state, { ...DEFAULT_THRESHOLDS, outOfRangeRate });
}

test("a small training set: an honest control sample is ok by default, a shift is flagged", async () => {
  const rand = seededRandom(3);
  const train = Array.from({ length: 150 }, () => rand());
  const lo = Math.min(...train);
  const hi = Math.max(...train);
  // 188 values from the same distribution, two of them just outside the training range
  const control = Array.from({ length: 186 }, () => lo + rand() * (hi - lo));
  control.push(lo - 1e-6, hi + 1e-6);
  assert.deepEqual(await integrityOf(train, control), []);
  // the old fixed 1% flags it
  const fixed = await integrityOf(train, control, 0.01);
  assert.deepEqual(
    fixed.map((i) => i.kind),
    ["out_of_range"],
  );
  assert.match(fixed[0]!.message, /2 of 188 values \(1\.1%\) outside .* \(limit 1\.0%\)/);
  // a real shift: a fifth of the values above the range
  const shifted = control.map((x, i) => (i % 5 === 0 ? hi + 0.5 : x));
  const issues = await integrityOf(train, shifted);
  assert.deepEqual(
    issues.map((i) => i.kind),
    ["out_of_range"],
  );
  assert.match(issues[0]!.message, /limit \d+\.\d%/);
});
