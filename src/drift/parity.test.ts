// Parity with the reference implementations, side by side on the same data: scipy.stats.ks_2samp,
// scipy.stats.chi2_contingency, scipy.stats.kstwo, scipy.spatial.distance.jensenshannon, and PSI by its
// published formula. Tolerances: KS D 1e-12, KS p 1e-6 relative, chi-square p 1e-9, PSI 1e-9.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { chi2Contingency } from "./chi2.js";
import { jensenShannonDistance } from "./jsd.js";
import { kolmogorovSf } from "./kolmogorov.js";
import { ks2samp, KsGrid } from "./ks.js";
import { psi } from "./psi.js";
import { runReference } from "./testdata/pyref.js";
import { seededRandom } from "./values.js";

const rand = seededRandom(20261122);
const normal = (mu: number, sd: number, decimals?: number) => {
  const z = Math.sqrt(-2 * Math.log(rand() + 1e-300)) * Math.cos(2 * Math.PI * rand());
  const v = mu + sd * z;
  return decimals === undefined ? v : Math.round(v * 10 ** decimals) / 10 ** decimals;
};
const sample = (n: number, mu: number, sd = 1, decimals?: number) =>
  Array.from({ length: n }, () => normal(mu, sd, decimals));

function relClose(actual: number, expected: number, rel: number, what: string): void {
  const tol = rel * Math.max(Math.abs(expected), Number.MIN_VALUE);
  assert.ok(
    Math.abs(actual - expected) <= tol,
    `${what}: got ${actual}, scipy ${expected} (relative tolerance ${rel})`,
  );
}

function absClose(actual: number, expected: number, abs: number, what: string): void {
  assert.ok(
    Math.abs(actual - expected) <= abs,
    `${what}: got ${actual}, reference ${expected} (tolerance ${abs})`,
  );
}

test(
  "two-sample KS matches scipy.stats.ks_2samp (exact and asymptotic regimes)",
  { timeout: 20 * 60_000 },
  () => {
    const cases: [number[], number[]][] = [
      [sample(8, 0), sample(8, 1)], // n1 == n2: reflection series
      [sample(25, 0), sample(25, 0.2)],
      [sample(37, 0), sample(53, 0.4)], // unequal: Hodges inside method
      [sample(300, 0, 1, 1), sample(450, 0.1, 1, 1)], // heavy ties
      [sample(2000, 0), sample(3000, 0.05)],
      [sample(10000, 0), sample(10000, 0.01)], // largest exact case
      [sample(10000, 0), sample(25000, 0.02)], // asymptotic, n ~ 7143: Pelz-Good / smirnov
      [sample(10000, 0), sample(40000, 0.5)], // tiny p
      [sample(6, 0), sample(20000, 0.3)], // asymptotic with n = 6: Durbin / Pomeranz branches
      [sample(60, 0), sample(12000, 0.3)],
      [sample(150, 0), sample(15000, 0.05)],
      [sample(1000, 0, 1, 2), sample(30000, 0, 1.1, 2)],
    ];
    const ref = runReference([], { ks: cases.map(([a, b]) => ({ a, b })) }) as {
      ks: { statistic: number; pValue: number }[];
    };
    cases.forEach(([a, b], i) => {
      const r = ks2samp(a, b);
      absClose(r.statistic, ref.ks[i]!.statistic, 1e-12, `case ${i} (n=${a.length},${b.length}) D`);
      relClose(r.pValue, ref.ks[i]!.pValue, 1e-6, `case ${i} (n=${a.length},${b.length}, ${r.method}) p`);
      // The bounded-memory grid gives the same D and p as the raw samples.
      const g = new KsGrid(Float64Array.from(a).sort());
      for (const x of b) g.add(x);
      const gr = g.test()!;
      assert.equal(gr.statistic, r.statistic, `case ${i}: grid D`);
      assert.equal(gr.pValue, r.pValue, `case ${i}: grid p`);
    });
  },
);

test(
  "the one-sample KS distribution matches scipy.stats.kstwo.sf in every algorithm region",
  { timeout: 20 * 60_000 },
  () => {
    const cases = [
      { n: 5, d: 0.15 }, // t <= 1: Ruben-Gambino
      { n: 10, d: 0.95 }, // t >= n - 1
      { n: 30, d: 0.6 }, // x >= 0.5: 2 * smirnov
      { n: 100, d: 0.05 }, // Durbin matrix
      { n: 100, d: 0.15 }, // Pomeranz
      { n: 100, d: 0.3 }, // smirnov
      { n: 1000, d: 0.02 }, // Durbin (n x^1.5 <= 1.4)
      { n: 1000, d: 0.04 }, // Pelz-Good
      { n: 5000, d: 0.03 }, // smirnov (n x^2 >= 2.2)
      { n: 200000, d: 0.003 }, // Pelz-Good, large n
    ];
    const ref = runReference([], { kstwo: cases }) as { kstwo: number[] };
    cases.forEach((c, i) =>
      relClose(kolmogorovSf(c.n, c.d), ref.kstwo[i]!, 1e-6, `kstwo.sf(${c.d}, ${c.n})`),
    );
  },
);

test(
  "chi-square contingency, PSI and Jensen-Shannon match scipy / the PSI formula",
  { timeout: 20 * 60_000 },
  () => {
    const counts = (k: number, scale: number) => Array.from({ length: k }, () => Math.floor(rand() * scale));
    const chi = [
      { a: [120, 80], b: [30, 45] }, // dof 1: Yates
      { a: [500, 300, 200], b: [52, 30, 18] },
      { a: [1000, 0, 5, 7], b: [900, 3, 0, 9] },
      { a: counts(12, 5000), b: counts(12, 300) },
      { a: [100000, 50000, 25000, 12500], b: [10000, 5200, 2400, 1300] },
      { a: [9000, 1000], b: [500, 500] }, // tiny p
    ];
    const psis = [
      { e: [10, 20, 30, 40], a: [12, 18, 33, 37] },
      { e: [100, 0, 50], a: [90, 10, 0] }, // empty bins: epsilon
      { e: counts(10, 10000), a: counts(10, 10000) },
    ];
    const jsds = psis.map(({ e, a }) => ({ p: e, q: a }));
    const ref = runReference([], { chi2: chi, psi: psis, jsd: jsds }) as {
      chi2: { statistic: number; pValue: number; dof: number }[];
      psi: number[];
      jsd: number[];
    };
    chi.forEach((c, i) => {
      const r = chi2Contingency(c.a, c.b)!;
      assert.equal(r.dof, ref.chi2[i]!.dof, `chi2 case ${i} dof`);
      relClose(r.statistic, ref.chi2[i]!.statistic, 1e-12, `chi2 case ${i} statistic`);
      absClose(r.pValue, ref.chi2[i]!.pValue, 1e-9, `chi2 case ${i} p`);
      relClose(r.pValue, ref.chi2[i]!.pValue, 1e-9, `chi2 case ${i} p (relative)`);
    });
    psis.forEach((c, i) => absClose(psi(c.e, c.a), ref.psi[i]!, 1e-9, `psi case ${i}`));
    jsds.forEach((c, i) => absClose(jensenShannonDistance(c.p, c.q), ref.jsd[i]!, 1e-12, `jsd case ${i}`));
  },
);

test(
  "a drift report's statistics match scipy recomputed from the same baseline and event files",
  { timeout: 20 * 60_000 },
  async () => {
    const { buildBaseline } = await import("./baseline-builder.js");
    const { WindowState } = await import("./window.js");
    const { ChunkProcessor } = await import("./process.js");
    const { evaluate, DEFAULT_THRESHOLDS } = await import("./evaluate.js");
    const dir = mkdtempSync(join(tmpdir(), "drift-parity-"));
    const cats = ["a", "b", "c", "d"];
    const trainRows = Array.from({ length: 4000 }, () => ({
      x: normal(0, 1),
      y: normal(5, 2, 2),
      c: cats[Math.floor(rand() ** 2 * 4)]!,
    }));
    const baseline = await buildBaseline(
      async function* () {
        yield* trainRows;
      },
      { file: "train.jsonl", format: "jsonl" },
      { sampleSize: 3000, bins: 10, topK: 3 },
    );
    const baselineFile = join(dir, "baseline.json");
    writeFileSync(baselineFile, JSON.stringify(baseline));
    const lines: string[] = [];
    for (let i = 0; i < 6000; i++) {
      const row = { x: normal(0.05, 1), y: normal(5, 2.2, 2), c: cats[Math.floor(rand() ** 1.5 * 4)]! };
      lines.push(
        JSON.stringify({
          specversion: "1.0",
          id: `e${i}`,
          source: "s",
          subject: "m",
          type: "io.modelship.inference.v1",
          time: "2026-01-01T00:30:00.000Z",
          datacontenttype: "application/json",
          data: {
            model: { name: "m" },
            revision: "r",
            variant: "stable",
            path: "/v2/models/m/infer",
            request: { inputs: [] },
            features: [row],
            status: 200,
            latencyMs: 1,
            headers: {},
            sampleRate: 1,
            fallback: false,
          },
        }),
      );
    }
    const eventsFile = join(dir, "events.ndjson");
    writeFileSync(eventsFile, lines.join("\n") + "\n");
    const state = new WindowState(baseline);
    new ChunkProcessor(state, {
      since: 0,
      until: Date.parse("2027-01-01T00:00:00Z"),
      validateFirst: 10,
      validateEvery: 100,
    }).processChunk(Buffer.from(lines.join("\n")));
    const report = evaluate({
      model: "m",
      window: { since: new Date(0), until: new Date() },
      baselineUri: baselineFile,
      baseline,
      state,
      thresholds: DEFAULT_THRESHOLDS,
      now: new Date(),
    });
    const ref = runReference(["report", baselineFile, eventsFile]) as Record<
      string,
      { psi: number; jsd: number; statistic: number; pValue: number }
    >;
    assert.deepEqual(Object.keys(ref).sort(), ["c", "x", "y"]);
    for (const f of report.features) {
      const r = ref[f.name]!;
      absClose(f.psi!, r.psi, 1e-9, `${f.name} psi`);
      absClose(f.jensenShannon!, r.jsd, 1e-12, `${f.name} jsd`);
      if (f.test!.name === "ks") absClose(f.test!.statistic, r.statistic, 1e-12, `${f.name} D`);
      else relClose(f.test!.statistic, r.statistic, 1e-12, `${f.name} chi2`);
      relClose(f.test!.pValue, r.pValue, f.test!.name === "ks" ? 1e-6 : 1e-9, `${f.name} p`);
    }
  },
);
