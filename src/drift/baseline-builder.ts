// Builds a baseline profile from training (or validation) data in two streaming passes:
// pass 1 types the columns and takes a seeded reservoir sample, counts, moments and category
// frequencies; pass 2 counts every numeric value into bins whose edges are the sample's quantiles.
// Memory is bounded by sampleSize per numeric column and the distinct-value cap per categorical one.
import type { FeatureSchema } from "../events/schema.js";
import {
  BASELINE_API_VERSION,
  BASELINE_FORMAT_VERSION,
  BASELINE_KIND,
  type Baseline,
  type FeatureProfile,
  type ProfileType,
  type QualityMetrics,
} from "./profile.js";
import { QualityAccumulator } from "./quality.js";
import type { Row, TableFormat } from "./table-reader.js";
import { binOf, categoryOf, observe, quantileSorted, seededRandom, type Observed } from "./values.js";

export interface BaselineOptions {
  sampleSize: number;
  bins: number;
  topK: number;
  labelField?: string;
  predictionField?: string;
  /** Declared types; columns not named are inferred. */
  schema?: FeatureSchema;
  seed?: number;
}

export const DEFAULTS = { sampleSize: 10000, bins: 10, topK: 50 } as const;
/** Distinct values tracked per column; beyond it a text column is profiled as free text ("string"). */
const MAX_DISTINCT = 10000;

class ColumnStats {
  count = 0;
  missing = 0;
  numbers = 0;
  booleans = 0;
  strings = 0;
  others = 0;
  mean = 0;
  m2 = 0;
  min = Infinity;
  max = -Infinity;
  seen = 0;
  sample: number[] = [];
  categories = new Map<string, number>();
  overflow = false;
  bins?: { edges: number[]; counts: number[] };

  constructor(
    private readonly sampleSize: number,
    private readonly rand: () => number,
  ) {}

  add(o: Observed): void {
    this.count++;
    switch (o.kind) {
      case "missing":
        this.missing++;
        return;
      case "number": {
        this.numbers++;
        const x = o.value;
        this.seen++;
        const d = x - this.mean;
        this.mean += d / this.seen;
        this.m2 += d * (x - this.mean);
        if (x < this.min) this.min = x;
        if (x > this.max) this.max = x;
        if (this.sample.length < this.sampleSize) this.sample.push(x);
        else {
          const j = Math.floor(this.rand() * this.seen);
          if (j < this.sampleSize) this.sample[j] = x;
        }
        break;
      }
      case "boolean":
        this.booleans++;
        break;
      case "string":
        this.strings++;
        break;
      default:
        this.others++;
        return;
    }
    const c = categoryOf(o);
    if (c === undefined || this.overflow) return;
    const prev = this.categories.get(c);
    if (prev !== undefined) this.categories.set(c, prev + 1);
    else if (this.categories.size < MAX_DISTINCT) this.categories.set(c, 1);
    else this.overflow = true;
  }

  inferType(): ProfileType {
    const present = this.count - this.missing;
    if (this.numbers > 0 && this.numbers === present) return "numeric";
    if (this.booleans > 0 && this.booleans === present) return "boolean";
    if (this.overflow) return "string";
    const distinct = this.categories.size;
    return distinct <= 1000 && distinct <= Math.max(20, present / 2) ? "categorical" : "string";
  }
}

function profileOf(s: ColumnStats, type: ProfileType, opts: BaselineOptions): FeatureProfile {
  const base = { count: s.count, missing: s.missing, missingRate: s.count === 0 ? 0 : s.missing / s.count };
  if (type === "numeric") {
    const values = s.sample.slice().sort((a, b) => a - b);
    return {
      type,
      ...base,
      min: s.seen ? s.min : 0,
      max: s.seen ? s.max : 0,
      mean: s.mean,
      std: s.seen > 1 ? Math.sqrt(s.m2 / (s.seen - 1)) : 0,
      bins: s.bins ?? { edges: [], counts: [s.seen] },
      sample: { values, exact: s.seen <= opts.sampleSize },
    };
  }
  const sorted = [...s.categories].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const top = sorted.slice(0, opts.topK);
  const present = s.count - s.missing;
  const inTop = top.reduce((acc, [, c]) => acc + c, 0);
  return {
    type,
    ...base,
    distinct: s.categories.size,
    categories: Object.fromEntries(top),
    otherCount: present - inTop,
    topK: opts.topK,
  };
}

/** Classification for categorical / boolean labels and for numeric labels with at most 20 integer values. */
function taskOf(s: ColumnStats, type: ProfileType): "classification" | "regression" {
  if (type !== "numeric") return "classification";
  const ints =
    !s.overflow &&
    s.categories.size <= 20 &&
    [...s.categories.keys()].every((k) => Number.isInteger(Number(k)));
  return ints ? "classification" : "regression";
}

/** Quantile edges from a sorted sample, deduplicated (ties collapse bins). */
export function binEdges(sorted: readonly number[], bins: number): number[] {
  const edges: number[] = [];
  for (let i = 1; i < bins; i++) {
    const e = quantileSorted(sorted, i / bins);
    if (edges.length === 0 || e > edges[edges.length - 1]!) edges.push(e);
  }
  return edges;
}

/**
 * `rows` is called once per pass and must yield the same rows each time (a re-read of the file).
 * Throws with a clear message for data that cannot make a baseline (no rows, a declared field absent).
 */
export async function buildBaseline(
  rows: () => AsyncIterable<Row>,
  source: { file: string; format: TableFormat },
  opts: BaselineOptions,
  now: Date = new Date(),
): Promise<Baseline> {
  const rand = seededRandom(opts.seed ?? 42);
  const fromText = source.format === "csv";
  const stats = new Map<string, ColumnStats>();
  const quality = new QualityAccumulator();
  let total = 0;
  const statsFor = (name: string): ColumnStats => {
    let s = stats.get(name);
    if (!s) {
      s = new ColumnStats(opts.sampleSize, rand);
      // A column first seen late was missing in the rows before it.
      s.count = total;
      s.missing = total;
      stats.set(name, s);
    }
    return s;
  };
  for (const name of opts.schema?.map((f) => f.name) ?? []) statsFor(name);

  for await (const row of rows()) {
    for (const name of Object.keys(row)) statsFor(name);
    for (const [name, s] of stats) s.add(observe(row[name], fromText));
    if (opts.labelField !== undefined && opts.predictionField !== undefined) {
      const t = observe(row[opts.labelField], fromText);
      const p = observe(row[opts.predictionField], fromText);
      if (t.kind !== "missing" && p.kind !== "missing" && t.kind !== "other" && p.kind !== "other")
        quality.add(t.value, p.value);
    }
    total++;
  }
  if (total === 0) throw new Error(`${source.file} has no data rows`);
  for (const field of [opts.labelField, opts.predictionField]) {
    if (field !== undefined && !stats.has(field)) throw new Error(`${source.file} has no column "${field}"`);
  }

  const declared = new Map(opts.schema?.map((f) => [f.name, f.type]) ?? []);
  const types = new Map<string, ProfileType>();
  for (const [name, s] of stats) types.set(name, declared.get(name) ?? s.inferType());

  // Pass 2: exact bin counts for numeric columns over the sample's quantile edges.
  const numeric = [...stats].filter(([name]) => types.get(name) === "numeric");
  if (numeric.length > 0) {
    for (const [, s] of numeric) {
      const sorted = s.sample.slice().sort((a, b) => a - b);
      const edges = binEdges(sorted, opts.bins);
      s.bins = { edges, counts: new Array<number>(edges.length + 1).fill(0) };
    }
    for await (const row of rows()) {
      for (const [name, s] of numeric) {
        const o = observe(row[name], fromText);
        if (o.kind === "number") s.bins!.counts[binOf(s.bins!.edges, o.value)]!++;
      }
    }
  }

  const features: Record<string, FeatureProfile> = {};
  for (const [name, s] of stats) {
    if (name === opts.labelField || name === opts.predictionField) continue;
    features[name] = profileOf(s, types.get(name)!, opts);
  }
  const baseline: Baseline = {
    apiVersion: BASELINE_API_VERSION,
    kind: BASELINE_KIND,
    formatVersion: BASELINE_FORMAT_VERSION,
    createdAt: now.toISOString(),
    source: { file: source.file, format: source.format, rows: total },
    settings: { sampleSize: opts.sampleSize, bins: opts.bins, topK: opts.topK },
    features,
  };
  if (opts.predictionField !== undefined) {
    const f = opts.predictionField;
    baseline.prediction = { field: f, profile: profileOf(stats.get(f)!, types.get(f)!, opts) };
  }
  if (opts.labelField !== undefined) {
    const f = opts.labelField;
    const profile = profileOf(stats.get(f)!, types.get(f)!, opts);
    baseline.label = { field: f, profile };
    if (opts.predictionField !== undefined) {
      const q: QualityMetrics | undefined = quality.metrics(taskOf(stats.get(f)!, profile.type));
      if (q) baseline.quality = q;
    }
  }
  return baseline;
}
