// Reads a window from the Parquet archive (docs/parquet.md) with DuckDB into the same WindowState the
// NDJSON scanner fills, so the statistics downstream are the same code. DuckDB does the reading, the
// window filter (row groups outside it are skipped by their time statistics), the counts, the
// categorical and boolean histograms and the type counts in SQL; numeric feature values arrive as
// column vectors and are counted into the KS grid and PSI bins in one pass (FeatureWindow.addNumbers).
// One file at a time on one connection: memory is DuckDB's per-query working set plus one vector.
import type { DuckDBConnection, DuckDBInstance, DuckDBResult, DuckDBVector } from "@duckdb/node-api";
import { FEEDBACK_EVENT_TYPE, INFERENCE_EVENT_TYPE } from "../events/constants.js";
import {
  ARCHIVE_FORMAT_VERSION,
  FEATURE_COLUMN_PREFIX,
  KV_FORMAT_VERSION,
  PREDICTION_COLUMN,
  quoteIdent,
  quoteString,
} from "../events/parquet-layout.js";
import type { FeatureWindow, WindowState } from "./window.js";

/** The columns a file must have to be read as an archive file. */
const REQUIRED = ["id", "type", "time", "status", "error_type", "row_index", "row_count", "prediction_count"];
/** Numbers gathered per feature before they are counted (32 features: 8 MiB). */
const BATCH = 32768;
const NUMERIC_TYPE = /^(U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)|FLOAT|DOUBLE|DECIMAL(\(.*\))?)$/;
const INF = quoteString(INFERENCE_EVENT_TYPE);
const FB = quoteString(FEEDBACK_EVENT_TYPE);

type ColumnKind = "number" | "string" | "boolean" | "json" | "other";

function kindOfType(t: string): ColumnKind {
  if (NUMERIC_TYPE.test(t)) return "number";
  if (t === "VARCHAR") return "string";
  if (t === "BOOLEAN") return "boolean";
  if (t === "JSON") return "json";
  return "other";
}

/** SQL for "this value counts as present": numbers must be finite (JSON has no NaN; NaN counts as missing). */
function presentSql(column: string, kind: ColumnKind): string {
  const q = quoteIdent(column);
  return kind === "number" ? `isfinite(CAST(${q} AS DOUBLE))` : `${q} IS NOT NULL`;
}

function timestamp(ms: number): string {
  return `${quoteString(new Date(ms).toISOString())}::TIMESTAMPTZ`;
}

/**
 * The vector's values as a Float64Array without a per-value call: @duckdb/node-api keeps them in a
 * typed array it does not expose, so this reads it when it is there and falls back to getItem otherwise.
 */
function doubles(v: DuckDBVector, scratch: Float64Array): Float64Array {
  const items = (v as unknown as { items?: unknown }).items;
  if (items instanceof Float64Array && items.length === v.itemCount) return items;
  for (let i = 0; i < v.itemCount; i++) scratch[i] = (v.getItem(i) as number | null) ?? NaN;
  return scratch;
}

export interface ParquetWindow {
  /** Window bounds, ms since epoch: since <= time < until. */
  since: number;
  until: number;
}

export class ParquetReader {
  private db?: DuckDBInstance;
  private conn?: DuckDBConnection;
  private readonly scratch = new Float64Array(4096);
  private truthLoaded = false;

  constructor(
    private readonly state: WindowState,
    private readonly window: ParquetWindow,
    /** Ground truth by event id, for the join pass (mode "join"). */
    private readonly truth?: Map<string, unknown>,
  ) {}

  private async connection(): Promise<DuckDBConnection> {
    if (!this.conn) {
      // loaded on first use: an NDJSON drift run never loads DuckDB's native module
      const { openDuckDB } = await import("../events/parquet-archive.js");
      this.db = await openDuckDB({ threads: 1, memoryLimit: "512MB" });
      this.conn = await this.db.connect();
    }
    return this.conn;
  }

  private async rows(sql: string): Promise<Record<string, unknown>[]> {
    const conn = await this.connection();
    return (await conn.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
  }

  /** Column name -> DuckDB type, after checking the file is an archive file of a version this reads. */
  private async schema(file: string): Promise<Map<string, string>> {
    const f = quoteString(file);
    const kv = await this.rows(
      `SELECT decode(value) AS v FROM parquet_kv_metadata(${f}) WHERE decode(key) = ${quoteString(KV_FORMAT_VERSION)}`,
    );
    const version = kv[0]?.v;
    if (version !== undefined && version !== ARCHIVE_FORMAT_VERSION)
      throw new Error(
        `${file} is a modelship archive file of format version ${String(version)}; this modelship reads version ${ARCHIVE_FORMAT_VERSION}`,
      );
    const cols = await this.rows(`DESCRIBE SELECT * FROM read_parquet(${f})`);
    const types = new Map(cols.map((c) => [c.column_name as string, c.column_type as string]));
    const missing = REQUIRED.filter((c) => !types.has(c));
    if (missing.length > 0)
      throw new Error(`${file} is not a modelship archive file: it has no ${missing.join(", ")} column`);
    return types;
  }

  private get inWindow(): string {
    return `time >= ${timestamp(this.window.since)} AND time < ${timestamp(this.window.until)}`;
  }

  /** Reads one file's events of the window into the state (mode "scan"). */
  async readFile(file: string): Promise<void> {
    if (this.truth) return this.joinFile(file);
    const types = await this.schema(file);
    const from = `read_parquet(${quoteString(file)})`;
    const w = this.inWindow;
    const c = this.state.counters;
    const featureRows = `type = ${INF} AND ${w} AND row_index < row_count`;
    const counts = (
      await this.rows(
        `SELECT
          count(*) FILTER (WHERE row_index = 0)::BIGINT AS lines,
          count(*) FILTER (WHERE row_index = 0 AND type = ${INF} AND ${w})::BIGINT AS events,
          count(*) FILTER (WHERE row_index = 0 AND type = ${INF} AND ${w}
            AND (status >= 400 OR error_type IS NOT NULL))::BIGINT AS failed,
          count(*) FILTER (WHERE row_index = 0 AND type = ${INF} AND ${w} AND row_count IS NULL)::BIGINT AS without,
          count(*) FILTER (WHERE row_index = 0 AND type IN (${INF}, ${FB}) AND NOT (${w}))::BIGINT AS outside,
          count(*) FILTER (WHERE row_index = 0 AND type NOT IN (${INF}, ${FB}))::BIGINT AS other,
          count(*) FILTER (WHERE ${featureRows})::BIGINT AS rows,
          count(*) FILTER (WHERE type = ${INF} AND ${w} AND row_index < prediction_count)::BIGINT AS predictions,
          count(*) FILTER (WHERE type = ${FB} AND ${w})::BIGINT AS feedback
        FROM ${from}`,
      )
    )[0]!;
    const num = (k: string) => Number(counts[k] ?? 0);
    c.lines += num("lines");
    c.events += num("events");
    c.failed += num("failed");
    c.withoutFeatures += num("without");
    c.outsideWindow += num("outside");
    c.otherTypes += num("other");
    const rows = num("rows");
    c.rows += rows;
    // a file the window only grazes: the counts above are all it adds
    if (rows > 0) await this.readFeatures(from, types, rows);
    if (num("predictions") > 0) await this.readPredictions(from, types);
    if (num("feedback") > 0) await this.readFeedback(from);
  }

  private async readFeatures(from: string, types: Map<string, string>, rows: number): Promise<void> {
    const st = this.state;
    const featureRows = `type = ${INF} AND ${this.inWindow} AND row_index < row_count`;
    const features = st.features.map((f) => ({ f, column: FEATURE_COLUMN_PREFIX + f.name }));
    const known = new Set(features.map((x) => x.column));
    const unexpected = [...types.keys()].filter((n) => n.startsWith(FEATURE_COLUMN_PREFIX) && !known.has(n));
    const present = features.filter((x) => types.has(x.column));
    const kindOf = (column: string) => kindOfType(types.get(column)!);

    // Numeric features stream their values (NaN: missing, counted as they go); every other column's
    // present values are counted in one SQL pass over the feature rows.
    const streamed = present.filter((x) => kindOf(x.column) === "number" && x.f.profile.type === "numeric");
    const counted = [...present.filter((x) => !streamed.includes(x)).map((x) => x.column), ...unexpected];
    const presentCounts = new Map<string, number>();
    if (counted.length > 0) {
      const r = (
        await this.rows(
          `SELECT ${counted.map((n, i) => `count(*) FILTER (WHERE ${presentSql(n, kindOf(n))})::BIGINT AS c${i}`).join(", ")}
           FROM ${from} WHERE ${featureRows}`,
        )
      )[0]!;
      counted.forEach((n, i) => presentCounts.set(n, Number(r[`c${i}`])));
    }
    for (const n of unexpected) {
      const k = presentCounts.get(n)!;
      if (k > 0) st.addUnexpected(n.slice(FEATURE_COLUMN_PREFIX.length), k);
    }
    const grouped: Parameters<ParquetReader["histograms"]>[0] = [];
    for (const x of features) {
      if (!types.has(x.column)) {
        x.f.addMissing(rows);
        continue;
      }
      if (streamed.includes(x)) continue;
      const nonNull = presentCounts.get(x.column)!;
      x.f.addMissing(rows - nonNull);
      const kind = kindOf(x.column);
      const p = x.f.profile.type;
      if (kind === "json") await this.streamJson(x.f, x.column, from, featureRows, false);
      else if (kind === "other") x.f.addTypeCount("other", nonNull);
      else if (p === "string" || (p === "numeric" && kind !== "boolean")) x.f.addTypeCount(kind, nonNull);
      else grouped.push({ f: x.f, column: x.column, kind });
    }
    await this.histograms(grouped, from, featureRows);
    if (streamed.length > 0) await this.streamNumbers(streamed, from, featureRows);
  }

  private async readPredictions(from: string, types: Map<string, string>): Promise<void> {
    const st = this.state;
    const kindOf = (column: string) => kindOfType(types.get(column)!);
    if (st.prediction && types.has(PREDICTION_COLUMN)) {
      const where = `type = ${INF} AND ${this.inWindow} AND row_index < prediction_count`;
      const kind = kindOf(PREDICTION_COLUMN);
      const pf = st.prediction;
      if (kind === "json") await this.streamJson(pf, PREDICTION_COLUMN, from, where, true);
      else if (kind === "number" && pf.profile.type === "numeric")
        await this.streamNumbers([{ f: pf, column: PREDICTION_COLUMN }], from, where);
      else {
        // every prediction row counts: null (and non-finite) ones as missing, as addPrediction does
        const r = (
          await this.rows(
            `SELECT count(*) FILTER (WHERE NOT ${presentSql(PREDICTION_COLUMN, kind)})::BIGINT AS missing,
               count(${PREDICTION_COLUMN})::BIGINT AS present FROM ${from} WHERE ${where}`,
          )
        )[0]!;
        pf.addMissing(Number(r.missing));
        if (kind === "other") pf.addTypeCount("other", Number(r.present));
        else await this.histograms([{ f: pf, column: PREDICTION_COLUMN, kind }], from, where);
      }
    }
  }

  /** Ground truth by event id, later ones winning as on the NDJSON path. */
  private async readFeedback(from: string): Promise<void> {
    const st = this.state;
    const c = st.counters;
    const w = this.inWindow;
    const fb = await this.result(
      `SELECT feedback_event_id, CAST(ground_truth AS VARCHAR) AS gt FROM ${from} WHERE type = ${FB} AND ${w}`,
    );
    for await (const chunk of fb) {
      const ids = chunk.getColumnVector(0);
      const gts = chunk.getColumnVector(1);
      for (let i = 0; i < chunk.rowCount; i++) {
        c.feedback++;
        const gt = gts.getItem(i) as string | null;
        st.feedback.set(ids.getItem(i) as string, gt === null ? null : JSON.parse(gt));
      }
    }
  }

  private async result(sql: string): Promise<DuckDBResult> {
    const conn = await this.connection();
    return conn.stream(sql);
  }

  /**
   * Numeric columns as vectors: NaN stands for a missing or non-finite value (both count as missing). Values
   * are gathered per feature, BATCH at a time, before they are counted: one feature's grid then stays in
   * cache for a long run of lookups, where 2,048-row vectors across 30-odd features would evict it.
   */
  private async streamNumbers(cols: { f: FeatureWindow; column: string }[], from: string, where: string) {
    const select = cols
      .map((x) => {
        const q = quoteIdent(x.column);
        return `CASE WHEN isfinite(CAST(${q} AS DOUBLE)) THEN CAST(${q} AS DOUBLE) ELSE 'NaN'::DOUBLE END`;
      })
      .join(", ");
    const res = await this.result(`SELECT ${select} FROM ${from} WHERE ${where}`);
    const buffers = this.buffers(cols.length);
    const fill = new Int32Array(cols.length);
    const scratch = this.scratch;
    for await (const chunk of res) {
      const n = chunk.rowCount;
      for (let k = 0; k < cols.length; k++) {
        const xs = doubles(chunk.getColumnVector(k), scratch);
        const buf = buffers[k]!;
        let m = fill[k]!;
        if (m + n > BATCH) {
          cols[k]!.f.addNumbers(buf, m);
          m = 0;
        }
        const before = m;
        for (let i = 0; i < n; i++) {
          const x = xs[i]!;
          if (x === x) buf[m++] = x;
        }
        if (m - before < n) cols[k]!.f.addMissing(n - (m - before));
        fill[k] = m;
      }
    }
    for (let k = 0; k < cols.length; k++) if (fill[k]! > 0) cols[k]!.f.addNumbers(buffers[k]!, fill[k]!);
  }

  private readonly batches: Float64Array[] = [];
  private buffers(n: number): Float64Array[] {
    while (this.batches.length < n) this.batches.push(new Float64Array(BATCH));
    return this.batches;
  }

  /**
   * Value counts of low-cardinality columns (categorical and boolean features, such a prediction), all
   * in one scan with GROUPING SETS. A column's values are counted most frequent first, the baseline's
   * listed categories before any other, so the category cap (MAX_WINDOW_CATEGORIES, then overflow)
   * never drops a listed one.
   */
  private async histograms(
    cols: { f: FeatureWindow; column: string; kind: Exclude<ColumnKind, "json" | "other"> }[],
    from: string,
    where: string,
  ): Promise<void> {
    if (cols.length === 0) return;
    const exprs = cols.map((x) =>
      x.kind === "number" ? `CAST(${quoteIdent(x.column)} AS DOUBLE)` : quoteIdent(x.column),
    );
    const groups = await this.rows(
      `SELECT ${exprs.map((e, i) => `${e} AS k${i}, GROUPING(${e}) AS g${i}`).join(", ")}, count(*)::BIGINT AS n
       FROM ${from} WHERE ${where}
       GROUP BY GROUPING SETS (${exprs.map((e) => `(${e})`).join(", ")})`,
    );
    const byColumn = cols.map(() => [] as { v: unknown; n: number }[]);
    for (const g of groups) {
      const i = cols.findIndex((_, k) => Number(g[`g${k}`]) === 0);
      const v = g[`k${i}`];
      // NULL (and, for numbers, non-finite) values were counted as missing already
      if (v === null || v === undefined || (typeof v === "number" && !Number.isFinite(v))) continue;
      byColumn[i]!.push({ v, n: Number(g.n) });
    }
    cols.forEach((x, i) => {
      const p = x.f.profile;
      const listed = new Set(p.type === "numeric" ? [] : Object.keys(p.categories));
      const key = (v: unknown) => (typeof v === "boolean" ? String(v) : String(v));
      byColumn[i]!.sort((a, b) => Number(listed.has(key(b.v))) - Number(listed.has(key(a.v))) || b.n - a.n);
      for (const { v, n } of byColumn[i]!) x.f.addValueTimes(v, n);
    });
  }

  /**
   * A JSON-text column (mixed types, arrays): each value parsed and counted like the NDJSON path does.
   * A feature's NULLs were counted as missing already; a prediction's count here (addPrediction(null)).
   */
  private async streamJson(
    f: FeatureWindow,
    column: string,
    from: string,
    where: string,
    prediction: boolean,
  ) {
    const q = quoteIdent(column);
    const res = await this.result(
      `SELECT CAST(${q} AS VARCHAR) FROM ${from} WHERE ${where}${prediction ? "" : ` AND ${q} IS NOT NULL`}`,
    );
    for await (const chunk of res) {
      const v = chunk.getColumnVector(0);
      for (let i = 0; i < chunk.rowCount; i++) {
        const text = v.getItem(i) as string | null;
        const x: unknown = text === null ? null : JSON.parse(text);
        if (prediction) this.state.addPrediction(x);
        else f.addValue(x);
      }
    }
  }

  /** The feedback join: predictions of the events that have ground truth, in row order (mode "join"). */
  private async joinFile(file: string): Promise<void> {
    const truth = this.truth!;
    if (truth.size === 0) return;
    const types = await this.schema(file);
    if (!types.has(PREDICTION_COLUMN)) return;
    const conn = await this.connection();
    if (!this.truthLoaded) {
      await conn.run("CREATE TEMP TABLE truth_ids (id VARCHAR)");
      const app = await conn.createAppender("truth_ids", "main", "temp");
      for (const id of truth.keys()) {
        app.appendVarchar(id);
        app.endRow();
      }
      app.closeSync();
      this.truthLoaded = true;
    }
    const json = kindOfType(types.get(PREDICTION_COLUMN)!) === "json";
    const rows = await this.rows(
      `SELECT id, list(${json ? `CAST(${PREDICTION_COLUMN} AS VARCHAR)` : PREDICTION_COLUMN} ORDER BY row_index) AS p
       FROM read_parquet(${quoteString(file)})
       WHERE type = ${INF} AND row_index < prediction_count AND id IN (SELECT id FROM truth_ids)
       GROUP BY id`,
    );
    for (const r of rows) {
      const id = r.id as string;
      if (!truth.has(id)) continue;
      const preds = (r.p as unknown[]).map((x) =>
        json && typeof x === "string" ? (JSON.parse(x) as unknown) : typeof x === "bigint" ? Number(x) : x,
      );
      if (preds.length === 0) continue;
      const gt = truth.get(id);
      if (Array.isArray(gt) && gt.length === preds.length)
        preds.forEach((p, i) => this.state.quality.add(gt[i], p));
      else this.state.quality.add(gt, preds[0]);
      truth.delete(id);
      this.state.counters.feedback++;
    }
  }

  close(): void {
    this.conn?.closeSync();
    this.db?.closeSync();
    this.conn = undefined;
    this.db = undefined;
  }
}
