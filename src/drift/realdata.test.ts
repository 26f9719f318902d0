// A real public dataset with a real shift: the Palmer penguins (shipped in the `palmerpenguins` PyPI
// package, installed in the reference venv). Baseline: penguins from Biscoe island (mostly Gentoo);
// window: penguins from Dream and Torgersen (Adelie and Chinstrap), which are smaller, with shorter
// flippers and deeper bills. Control: a seeded random split of all penguins, which must not drift.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { createLogger } from "../platform/log.js";
import { buildBaseline, DEFAULTS } from "./baseline-builder.js";
import { DEFAULT_THRESHOLDS } from "./evaluate.js";
import { runDriftJob } from "./job.js";
import { readTable, type Row } from "./table-reader.js";
import { packageDataFile, runReference } from "./testdata/pyref.js";
import { observeText, seededRandom } from "./values.js";

const log = createLogger({ name: "drift-test", level: "silent" });
const UNTIL = new Date("2026-05-01T00:00:00Z");

async function penguins(): Promise<Row[]> {
  const rows: Row[] = [];
  for await (const r of readTable(packageDataFile("palmerpenguins", "data/penguins.csv"))) rows.push(r);
  return rows;
}

/** Baseline file from CSV-like rows, leaving out the split covariate. */
async function baselineOf(rows: Row[], drop: string, file: string): Promise<void> {
  const kept = rows.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => k !== drop)));
  const b = await buildBaseline(
    async function* () {
      yield* kept;
    },
    { file: "penguins.csv", format: "csv" },
    { ...DEFAULTS, labelField: "species" },
  );
  writeFileSync(file, JSON.stringify(b));
}

/** One InferenceEvent per penguin, features typed as a logger would record them (NA -> null). */
function eventsOf(rows: Row[], drop: string, file: string): void {
  const lines = rows.map((r, i) => {
    const features: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(r)) {
      if (k === drop || k === "species") continue;
      const o = observeText(String(v));
      features[k] =
        o.kind === "missing"
          ? null
          : o.kind === "number" || o.kind === "string" || o.kind === "boolean"
            ? o.value
            : null;
    }
    const time = new Date(UNTIL.getTime() - 1_800_000 + i * 1000).toISOString();
    return JSON.stringify({
      specversion: "1.0",
      id: `p${i}`,
      source: "modelship/zoo/penguins/r1",
      subject: "penguins",
      type: "io.modelship.inference.v1",
      time,
      datacontenttype: "application/json",
      data: {
        model: { name: "penguins" },
        revision: "r1",
        variant: "stable",
        path: "/v2/models/penguins/infer",
        request: { inputs: [] },
        features: [features],
        status: 200,
        latencyMs: 1,
        headers: {},
        sampleRate: 1,
        fallback: false,
      },
    });
  });
  writeFileSync(file, lines.join("\n") + "\n");
}

async function run(
  baselineFile: string,
  eventsFile: string,
  outOfRangeRate = DEFAULT_THRESHOLDS.outOfRangeRate,
) {
  return runDriftJob({
    baselineUri: baselineFile,
    events: { kind: "file", file: eventsFile },
    model: "penguins",
    window: { since: new Date(UNTIL.getTime() - 3_600_000), until: UNTIL },
    thresholds: { ...DEFAULT_THRESHOLDS, outOfRangeRate },
    workers: 0,
    log,
    now: () => UNTIL,
  });
}

test(
  "penguins: Biscoe vs Dream/Torgersen drifts where the species differ, with scipy-equal statistics",
  { timeout: 20 * 60_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "drift-penguins-"));
    const all = await penguins();
    assert.equal(all.length, 344);
    const baselineFile = join(dir, "biscoe.json");
    const eventsFile = join(dir, "others.ndjson");
    await baselineOf(
      all.filter((r) => r.island === "Biscoe"),
      "island",
      baselineFile,
    );
    eventsOf(
      all.filter((r) => r.island !== "Biscoe"),
      "island",
      eventsFile,
    );
    const report = await run(baselineFile, eventsFile);
    assert.equal(report.verdict, "drift");
    assert.equal(report.counts.events, 176);
    const f = new Map(report.features.map((x) => [x.name, x]));
    for (const name of ["flipper_length_mm", "body_mass_g", "bill_depth_mm"])
      assert.equal(f.get(name)!.verdict, "drift", `${name}: ${f.get(name)!.reason}`);
    assert.equal(f.get("sex")!.type, "categorical");
    assert.notEqual(f.get("sex")!.verdict, "drift", "sex ratio is the same on every island");
    assert.ok(f.get("flipper_length_mm")!.mean! < f.get("flipper_length_mm")!.baselineMean! - 10);

    const ref = runReference(["report", baselineFile, eventsFile]) as Record<
      string,
      { psi: number; statistic: number; pValue: number }
    >;
    for (const [name, r] of Object.entries(ref)) {
      const mine = f.get(name)!;
      assert.ok(Math.abs(mine.psi! - r.psi) <= 1e-9, `${name} psi ${mine.psi} vs ${r.psi}`);
      assert.ok(
        Math.abs(mine.test!.statistic - r.statistic) <= 1e-12 * Math.max(1, r.statistic),
        `${name} statistic ${mine.test!.statistic} vs ${r.statistic}`,
      );
      const tol = (mine.test!.name === "ks" ? 1e-6 : 1e-9) * r.pValue;
      assert.ok(
        Math.abs(mine.test!.pValue - r.pValue) <= tol,
        `${name} p ${mine.test!.pValue} vs ${r.pValue}`,
      );
    }
  },
);

test("penguins: a random split of the same population does not drift", { timeout: 20 * 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "drift-penguins-"));
  const all = await penguins();
  const rand = seededRandom(5);
  const tagged = all.map((r) => ({ ...r, half: rand() < 0.5 ? "a" : "b" }));
  const baselineFile = join(dir, "a.json");
  const eventsFile = join(dir, "b.ndjson");
  await baselineOf(
    tagged.filter((r) => r.half === "a"),
    "half",
    baselineFile,
  );
  eventsOf(
    tagged.filter((r) => r.half === "b"),
    "half",
    eventsFile,
  );
  // ~170 training rows: about 2/(n+1) of new draws fall outside the training range by chance alone; the
  // default out-of-range limit follows the baseline's size, so no flag is needed here.
  const report = await run(baselineFile, eventsFile);
  assert.equal(report.verdict, "ok", report.reasons.join("; "));
  for (const x of report.features) assert.notEqual(x.verdict, "drift", `${x.name}: ${x.reason}`);
});
