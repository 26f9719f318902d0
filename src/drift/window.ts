// Per-window accumulators: what a drift run counts while streaming events, in memory bounded by the
// baseline (bins, reference sample, category caps), never by the number of events. Each worker fills
// its own WindowState; states merge by addition.
import { KsGrid } from "./ks.js";
import type { Baseline, FeatureProfile } from "./profile.js";
import { QualityAccumulator, type QualityState } from "./quality.js";
import { binOf } from "./values.js";

/** Distinct window categories tracked per feature; the rest are counted as overflow. */
export const MAX_WINDOW_CATEGORIES = 10000;
/** Distinct unexpected field names tracked. */
const MAX_UNEXPECTED = 1000;
const MAX_ERROR_SAMPLES = 5;
/** Numbers a numeric feature queues before counting them in one pass over its grid. */
const PENDING_NUMBERS = 2048;

export interface TypeCounts {
  number: number;
  string: number;
  boolean: number;
  other: number;
}

export interface FeatureWindowState {
  name: string;
  count: number;
  missing: number;
  types: TypeCounts;
  belowMin: number;
  aboveMax: number;
  min: number;
  max: number;
  sum: number;
  /** PSI bin counts of the values in split grid intervals (the rest follow from ksBelow / ksEqual). */
  splitBins?: Float64Array;
  ksBelow?: Uint32Array;
  ksEqual?: Uint32Array;
  categories?: [string, number][];
  overflow: number;
}

export class FeatureWindow {
  count = 0;
  missing = 0;
  types: TypeCounts = { number: 0, string: 0, boolean: 0, other: 0 };
  belowMin = 0;
  aboveMax = 0;
  min = Infinity;
  max = -Infinity;
  sum = 0;
  overflow = 0;
  /**
   * PSI bin counts of the values in grid intervals that a bin edge splits; every other value's bin
   * follows from the KS grid counts (see bins), so the per-value work is the grid search alone.
   */
  private readonly splitBins?: Float64Array;
  readonly edges?: Float64Array;
  /** PSI bin of the values equal to grid value j, and of those strictly between values j-1 and j (-1: an edge splits it). */
  private readonly binEqual?: Int16Array;
  private readonly binBelow?: Int16Array;
  readonly grid?: KsGrid;
  readonly categories?: Map<string, number>;
  /** Numbers waiting for flushNumbers (numeric features only). */
  private readonly pending?: Float64Array;
  private pendingCount = 0;
  /** Numbers staged after the pending ones (see stage()). */
  private staged = 0;
  private readonly lo: number;
  private readonly hi: number;

  constructor(
    readonly name: string,
    readonly profile: FeatureProfile,
  ) {
    if (profile.type === "numeric") {
      const edges = Float64Array.from(profile.bins.edges);
      this.edges = edges;
      this.splitBins = new Float64Array(profile.bins.counts.length);
      const grid = new KsGrid(profile.sample.values);
      this.grid = grid;
      const u = grid.values;
      this.binEqual = new Int16Array(u.length);
      this.binBelow = new Int16Array(u.length + 1);
      for (let j = 0; j <= u.length; j++) {
        if (j < u.length) this.binEqual[j] = binOf(edges, u[j]!);
        const lo = j === 0 ? -Infinity : u[j - 1]!;
        const hi = j === u.length ? Infinity : u[j]!;
        // split when an edge lies strictly inside (lo, hi): the first edge above lo is below hi
        const first = binOf(edges, lo);
        const split = first < edges.length && edges[first]! < hi;
        this.binBelow[j] = split ? -1 : first;
      }
      this.lo = profile.min;
      this.hi = profile.max;
      this.pending = new Float64Array(PENDING_NUMBERS);
    } else {
      this.categories = new Map();
      this.lo = -Infinity;
      this.hi = Infinity;
    }
  }

  /**
   * Adds a finite number. A numeric feature queues it and counts queued values a feature at a time
   * (flushNumbers), so the feature's grid stays in cache while a run of its values is located: events
   * interleave 30-odd features whose grids together outgrow the core's cache.
   */
  addNumber(x: number): void {
    if (!this.pending) {
      this.count++;
      this.types.number++;
      this.addCategory(String(x));
      return;
    }
    this.pending[this.pendingCount + this.staged] = x;
    if (++this.pendingCount + this.staged === PENDING_NUMBERS) this.flushNumbers();
  }

  /**
   * Stages a number of a line still being read (numeric features only): it counts once commitStaged()
   * runs, and never if dropStaged() runs first. False when one line stages more than the queue holds.
   */
  stage(x: number): boolean {
    if (this.pendingCount + this.staged === PENDING_NUMBERS) {
      this.flushNumbers();
      if (this.staged === PENDING_NUMBERS) return false;
    }
    this.pending![this.pendingCount + this.staged++] = x;
    return true;
  }

  /** Takes back the last staged number. */
  unstage(): void {
    this.staged--;
  }

  commitStaged(): void {
    this.pendingCount += this.staged;
    this.staged = 0;
    if (this.pendingCount === PENDING_NUMBERS) this.flushNumbers();
  }

  dropStaged(): void {
    this.staged = 0;
  }

  /** Counts the queued numbers; state() and merge() call it, so no reader ever sees a partial count. */
  flushNumbers(): void {
    const n = this.pendingCount;
    if (n === 0) return;
    this.pendingCount = 0;
    const xs = this.pending!;
    this.countNumbers(xs, n);
    // Staged numbers move to the front, so the queue is free again.
    if (this.staged > 0) xs.copyWithin(0, n, n + this.staged);
  }

  private countNumbers(xs: Float64Array, n: number): void {
    const grid = this.grid!;
    const values = grid.values;
    const u = values.length;
    const equal = grid.equal;
    const below = grid.below;
    const splitBins = this.splitBins!;
    const binBelow = this.binBelow!;
    const edges = this.edges!;
    const lo = this.lo;
    const hi = this.hi;
    let min = this.min;
    let max = this.max;
    let sum = this.sum;
    let belowMin = 0;
    let aboveMax = 0;
    for (let i = 0; i < n; i++) {
      const x = xs[i]!;
      const j = grid.locate(x);
      if (j < u && values[j] === x) equal[j]!++;
      else {
        below[j]!++;
        if (binBelow[j]! < 0) splitBins[binOf(edges, x)]!++;
      }
      if (x < lo) belowMin++;
      else if (x > hi) aboveMax++;
      if (x < min) min = x;
      if (x > max) max = x;
      sum += x;
    }
    this.belowMin += belowMin;
    this.aboveMax += aboveMax;
    this.min = min;
    this.max = max;
    this.sum = sum;
    this.count += n;
    this.types.number += n;
  }

  /** PSI bin counts of every value counted: the split intervals' counts plus the grid's, bin by bin. */
  get bins(): Float64Array | undefined {
    if (!this.splitBins) return undefined;
    const out = Float64Array.from(this.splitBins);
    const grid = this.grid!;
    const binEqual = this.binEqual!;
    const binBelow = this.binBelow!;
    for (let j = 0; j < grid.below.length; j++) {
      if (j < grid.equal.length) out[binEqual[j]!]! += grid.equal[j]!;
      if (binBelow[j]! >= 0) out[binBelow[j]!]! += grid.below[j]!;
    }
    return out;
  }

  addString(s: string): void {
    this.count++;
    this.types.string++;
    if (this.categories) this.addCategory(s);
  }

  addBoolean(b: boolean): void {
    this.count++;
    this.types.boolean++;
    if (this.categories) this.addCategory(b ? "true" : "false");
  }

  addMissing(n = 1): void {
    this.count += n;
    this.missing += n;
  }

  /**
   * Counts n finite numbers of a numeric feature straight from a typed array (the Parquet reader's
   * columns), with the same per-value work as the queue's flush.
   */
  addNumbers(xs: Float64Array, n: number): void {
    if (!this.pending) {
      for (let i = 0; i < n; i++) this.addNumber(xs[i]!);
      return;
    }
    this.countNumbers(xs, n);
  }

  /** Counts n occurrences of one value (from a SQL GROUP BY): the same as calling addValue n times. */
  addValueTimes(v: unknown, n: number): void {
    if (n <= 0) return;
    if (typeof v === "number" && Number.isFinite(v) && this.pending) {
      for (let i = 0; i < n; i++) this.addNumber(v);
      return;
    }
    if (v === null || v === undefined || (typeof v === "number" && !Number.isFinite(v))) {
      this.addMissing(n);
      return;
    }
    this.count += n;
    if (typeof v === "number") this.types.number += n;
    else if (typeof v === "string") this.types.string += n;
    else if (typeof v === "boolean") this.types.boolean += n;
    else {
      this.types.other += n;
      return;
    }
    if (this.categories) this.addCategory(typeof v === "boolean" ? (v ? "true" : "false") : String(v), n);
  }

  /** Counts n present values of one JSON type beyond the category cap. */
  addOverflow(kind: keyof TypeCounts, n: number): void {
    this.addTypeCount(kind, n);
    if (this.categories) this.overflow += n;
  }

  /** Counts n present values of one JSON type without their categories (integrity-only paths). */
  addTypeCount(kind: keyof TypeCounts, n: number): void {
    this.count += n;
    this.types[kind] += n;
  }

  addOther(): void {
    this.count++;
    this.types.other++;
  }

  /** Adds any JSON value (the generic path). */
  addValue(v: unknown): void {
    if (v === null || v === undefined) this.addMissing();
    else if (typeof v === "number") {
      if (Number.isFinite(v)) this.addNumber(v);
      else this.addMissing();
    } else if (typeof v === "string") this.addString(v);
    else if (typeof v === "boolean") this.addBoolean(v);
    else this.addOther();
  }

  private addCategory(c: string, n = 1): void {
    const m = this.categories!;
    const prev = m.get(c);
    if (prev !== undefined) m.set(c, prev + n);
    else if (m.size < MAX_WINDOW_CATEGORIES) m.set(c, n);
    else this.overflow += n;
  }

  state(): FeatureWindowState {
    this.flushNumbers();
    return {
      name: this.name,
      count: this.count,
      missing: this.missing,
      types: { ...this.types },
      belowMin: this.belowMin,
      aboveMax: this.aboveMax,
      min: this.min,
      max: this.max,
      sum: this.sum,
      splitBins: this.splitBins,
      ksBelow: this.grid?.below,
      ksEqual: this.grid?.equal,
      categories: this.categories ? [...this.categories] : undefined,
      overflow: this.overflow,
    };
  }

  merge(s: FeatureWindowState): void {
    this.flushNumbers();
    this.count += s.count;
    this.missing += s.missing;
    for (const k of ["number", "string", "boolean", "other"] as const) this.types[k] += s.types[k];
    this.belowMin += s.belowMin;
    this.aboveMax += s.aboveMax;
    this.min = Math.min(this.min, s.min);
    this.max = Math.max(this.max, s.max);
    this.sum += s.sum;
    this.overflow += s.overflow;
    if (this.splitBins && s.splitBins)
      for (let i = 0; i < this.splitBins.length; i++) this.splitBins[i]! += s.splitBins[i]!;
    if (this.grid && s.ksBelow && s.ksEqual) this.grid.merge({ below: s.ksBelow, equal: s.ksEqual });
    if (this.categories && s.categories) {
      for (const [c, n] of s.categories) {
        const prev = this.categories.get(c);
        if (prev !== undefined) this.categories.set(c, prev + n);
        else if (this.categories.size < MAX_WINDOW_CATEGORIES) this.categories.set(c, n);
        else this.overflow += n;
      }
    }
  }
}

export interface WindowCounters {
  /** Lines read. */
  lines: number;
  /** Inference events inside the window. */
  events: number;
  /** Feature rows (batch rows) inside the window. */
  rows: number;
  /** Inference events without a features array (no feature schema, or a failed request). */
  withoutFeatures: number;
  /** Inference events whose request failed (status >= 400 or an error). */
  failed: number;
  feedback: number;
  outsideWindow: number;
  /** Lines that are not JSON or do not match the InferenceEvent v1 / feedback schema. */
  invalid: number;
  /** Lines checked against the full zod schema (every line on the slow path, a sample on the fast one). */
  schemaChecked: number;
  /** Other event types, ignored. */
  otherTypes: number;
}

export interface WindowStateData {
  counters: WindowCounters;
  features: FeatureWindowState[];
  prediction?: FeatureWindowState;
  unexpected: [string, number][];
  invalidSamples: string[];
  feedback: [string, unknown][];
  quality?: QualityState;
}

export class WindowState {
  counters: WindowCounters = {
    lines: 0,
    events: 0,
    rows: 0,
    withoutFeatures: 0,
    failed: 0,
    feedback: 0,
    outsideWindow: 0,
    invalid: 0,
    schemaChecked: 0,
    otherTypes: 0,
  };
  readonly features: FeatureWindow[];
  readonly slots = new Map<string, number>();
  readonly prediction?: FeatureWindow;
  readonly unexpected = new Map<string, number>();
  readonly invalidSamples: string[] = [];
  /** Ground truth by inference event id, from feedback events in the window. */
  readonly feedback = new Map<string, unknown>();
  readonly quality = new QualityAccumulator();

  constructor(readonly baseline: Baseline) {
    this.features = Object.entries(baseline.features).map(([name, p], i) => {
      this.slots.set(name, i);
      return new FeatureWindow(name, p);
    });
    if (baseline.prediction)
      this.prediction = new FeatureWindow(baseline.prediction.field, baseline.prediction.profile);
  }

  /** Counts every feature's queued numbers (see FeatureWindow.addNumber). */
  flushNumbers(): void {
    for (const f of this.features) f.flushNumbers();
    this.prediction?.flushNumbers();
  }

  addUnexpected(name: string, n = 1): void {
    const prev = this.unexpected.get(name);
    if (prev !== undefined) this.unexpected.set(name, prev + n);
    else if (this.unexpected.size < MAX_UNEXPECTED) this.unexpected.set(name, n);
  }

  addInvalid(message: string): void {
    this.counters.invalid++;
    if (this.invalidSamples.length < MAX_ERROR_SAMPLES) this.invalidSamples.push(message);
  }

  /** Feeds one row of features given as a plain object (the generic path). */
  addRow(row: Record<string, unknown>): void {
    this.counters.rows++;
    const seen = new Uint8Array(this.features.length);
    for (const [k, v] of Object.entries(row)) {
      const slot = this.slots.get(k);
      if (slot === undefined) {
        this.addUnexpected(k);
        continue;
      }
      seen[slot] = 1;
      this.features[slot]!.addValue(v);
    }
    for (let i = 0; i < seen.length; i++) if (!seen[i]) this.features[i]!.addMissing();
  }

  /** One prediction per row: a scalar, or a one-element array; anything else counts as an "other" type. */
  addPrediction(v: unknown): void {
    if (!this.prediction) return;
    this.prediction.addValue(Array.isArray(v) && v.length === 1 ? v[0] : v);
  }

  state(): WindowStateData {
    return {
      counters: { ...this.counters },
      features: this.features.map((f) => f.state()),
      prediction: this.prediction?.state(),
      unexpected: [...this.unexpected],
      invalidSamples: this.invalidSamples.slice(),
      feedback: [...this.feedback],
      quality: this.quality.state(),
    };
  }

  merge(s: WindowStateData): void {
    for (const k of Object.keys(this.counters) as (keyof WindowCounters)[]) this.counters[k] += s.counters[k];
    s.features.forEach((f, i) => this.features[i]!.merge(f));
    if (this.prediction && s.prediction) this.prediction.merge(s.prediction);
    for (const [k, n] of s.unexpected) {
      const prev = this.unexpected.get(k);
      if (prev !== undefined) this.unexpected.set(k, prev + n);
      else if (this.unexpected.size < MAX_UNEXPECTED) this.unexpected.set(k, n);
    }
    for (const m of s.invalidSamples)
      if (this.invalidSamples.length < MAX_ERROR_SAMPLES) this.invalidSamples.push(m);
    for (const [id, gt] of s.feedback) this.feedback.set(id, gt);
    if (s.quality) this.quality.merge(s.quality);
  }
}
