// The Parquet archive's layout and schema, as pure functions: where a closed segment's Parquet file goes
// (hive style, model=/date=/hour=), which columns it has, and how one event becomes rows. The I/O (DuckDB,
// the directory or bucket) lives in parquet-archive.ts; docs/parquet.md documents every column.
import { FEEDBACK_EVENT_TYPE, INFERENCE_EVENT_TYPE } from "./constants.js";
import type { Partition } from "./partition.js";
import type { ModelshipEvent } from "./schema.js";

/** Written into every file's key-value metadata; a reader refuses versions it does not know. */
export const ARCHIVE_FORMAT_VERSION = "1";
export const KV_FORMAT_VERSION = "modelship.archive.formatVersion";
/** Feature name -> column kind, as JSON, in every file's key-value metadata. */
export const KV_FEATURES = "modelship.archive.features";
/** Feature values live in one column each, named with this prefix, so no feature name clashes with an event field. */
export const FEATURE_COLUMN_PREFIX = "feature_";

/**
 * How a feature (or the prediction) is stored in one file: a typed column when every present value of the
 * segment has the same JSON type, JSON text when the types are mixed (a producer broke its schema) or
 * values are arrays/objects, VARCHAR when no value is present at all.
 */
export type ValueKind = "DOUBLE" | "BOOLEAN" | "VARCHAR" | "JSON";

/** The hive-style directory of a partition: model=<model>/date=<YYYY-MM-DD>/hour=<HH>. */
export function archiveDir(p: Partition): string {
  return `model=${p.model}/date=${p.date}/hour=${p.hour}`;
}

/** A segment's stem: its file name without .ndjson[.gz]; the Parquet file and the archived marker use it. */
export function segmentStem(segmentFile: string): string {
  const name = segmentFile.slice(segmentFile.lastIndexOf("/") + 1);
  return name.replace(/\.ndjson(\.gz)?$/, "");
}

/** Where a closed segment's Parquet file goes, relative to the archive root (one file per segment). */
export function archiveKey(p: Partition, segmentFile: string): string {
  return `${archiveDir(p)}/part-${segmentStem(segmentFile)}.parquet`;
}

const ARCHIVE_KEY = /^model=([^/]+)\/date=(\d{4}-\d{2}-\d{2})\/hour=(\d{2})\/([^/]+\.parquet)$/;

/** The partition and file name of an archive key; undefined for anything else under the root. */
export function parseArchiveKey(key: string): (Partition & { file: string }) | undefined {
  const m = ARCHIVE_KEY.exec(key);
  if (!m) return undefined;
  return { model: m[1]!, date: m[2]!, hour: m[3]!, file: m[4]! };
}

/** The start of a partition's hour, ms since epoch. */
export function hourStart(p: { date: string; hour: string }): number {
  return Date.parse(`${p.date}T${p.hour}:00:00Z`);
}

export interface ArchiveRetention {
  /** Partitions whose hour ended more than this long ago are deleted. */
  maxAgeMs?: number;
  /** Only the newest this many hour partitions of each model are kept. */
  maxPartitions?: number;
}

/**
 * The partitions retention deletes: those whose hour ended before now - maxAgeMs, and per model all but
 * the newest maxPartitions. Pure, so it is table-tested; the caller deletes what it returns.
 */
export function expiredPartitions<P extends Partition>(
  partitions: P[],
  r: ArchiveRetention,
  now: number,
): P[] {
  const out = new Set<P>();
  if (r.maxAgeMs !== undefined)
    for (const p of partitions) if (hourStart(p) + 3_600_000 <= now - r.maxAgeMs) out.add(p);
  if (r.maxPartitions !== undefined) {
    const byModel = new Map<string, P[]>();
    for (const p of partitions) {
      const list = byModel.get(p.model) ?? [];
      list.push(p);
      byModel.set(p.model, list);
    }
    for (const list of byModel.values()) {
      list.sort((a, b) => hourStart(b) - hourStart(a));
      for (const p of list.slice(r.maxPartitions)) out.add(p);
    }
  }
  return partitions.filter((p) => out.has(p));
}

/** A fixed column: its name, DuckDB type, and what it holds (docs/parquet.md repeats these lines). */
export interface EventColumn {
  name: string;
  type:
    | "VARCHAR"
    | "TIMESTAMPTZ"
    | "INTEGER"
    | "DOUBLE"
    | "BOOLEAN"
    | "VARCHAR[]"
    | "MAP(VARCHAR, VARCHAR)"
    | "JSON";
  doc: string;
}

/**
 * The event columns, in file order. One Parquet row per batch row of an event (an event without feature
 * rows or predictions still has one row, row_index 0), so features are plain columns and the event's own
 * fields repeat on each of its rows; `request` and `response` are kept on row 0 only.
 */
export const EVENT_COLUMNS: readonly EventColumn[] = [
  { name: "id", type: "VARCHAR", doc: "CloudEvents id (unique per model and hour)" },
  { name: "type", type: "VARCHAR", doc: `${INFERENCE_EVENT_TYPE} or ${FEEDBACK_EVENT_TYPE}` },
  { name: "source", type: "VARCHAR", doc: "modelship/<namespace>/<model>/<revision>" },
  { name: "subject", type: "VARCHAR", doc: "the model name" },
  { name: "time", type: "TIMESTAMPTZ", doc: "event time, UTC, microseconds" },
  { name: "specversion", type: "VARCHAR", doc: "CloudEvents spec version (1.0)" },
  { name: "datacontenttype", type: "VARCHAR", doc: "application/json" },
  { name: "model_name", type: "VARCHAR", doc: "data.model.name" },
  { name: "model_version", type: "VARCHAR", doc: "data.model.version" },
  { name: "revision", type: "VARCHAR", doc: "data.revision (inference)" },
  { name: "variant", type: "VARCHAR", doc: "data.variant: stable, canary, shadow or preview" },
  { name: "path", type: "VARCHAR", doc: "data.path, the request path" },
  { name: "status", type: "INTEGER", doc: "data.status, the HTTP status the client got" },
  { name: "error_type", type: "VARCHAR", doc: "data.error.type" },
  { name: "error_message", type: "VARCHAR", doc: "data.error.message" },
  { name: "latency_ms", type: "DOUBLE", doc: "data.latencyMs" },
  { name: "sample_rate", type: "DOUBLE", doc: "data.sampleRate" },
  { name: "fallback", type: "BOOLEAN", doc: "data.fallback" },
  { name: "truncated", type: "BOOLEAN", doc: "data.truncated" },
  { name: "redacted", type: "VARCHAR[]", doc: "data.redacted" },
  { name: "headers", type: "MAP(VARCHAR, VARCHAR)", doc: "data.headers" },
  { name: "request_id", type: "VARCHAR", doc: "data.request.id" },
  { name: "request", type: "JSON", doc: "data.request (tensors, parameters, body), row 0 only" },
  { name: "response", type: "JSON", doc: "data.response, row 0 only" },
  { name: "row_index", type: "INTEGER", doc: "the batch row this Parquet row holds, from 0" },
  { name: "row_count", type: "INTEGER", doc: "length of data.features; NULL when the event has none" },
  { name: "prediction_count", type: "INTEGER", doc: "length of data.predictions; NULL when absent" },
  { name: "feedback_event_id", type: "VARCHAR", doc: "data.eventId (feedback)" },
  { name: "ground_truth", type: "JSON", doc: "data.groundTruth (feedback)" },
  { name: "feedback_time", type: "TIMESTAMPTZ", doc: "data.time (feedback)" },
];

/** The prediction column: data.predictions[row_index], typed like a feature (see ValueKind). */
export const PREDICTION_COLUMN = "prediction";

export function featureColumn(name: string): string {
  return FEATURE_COLUMN_PREFIX + name;
}

/** A SQL identifier, double-quoted. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A SQL string literal. */
export function quoteString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** A fixed column's value: plain JS (strings, numbers, booleans, µs since epoch as bigint, lists, maps). */
export type Cell = string | number | boolean | bigint | string[] | [string, string][] | null;

/** One Parquet row before typing: the fixed cells in EVENT_COLUMNS order, the row's features and prediction. */
export interface ArchiveRow {
  cells: Cell[];
  features?: Record<string, unknown>;
  /** Present when the event has a prediction for this row (the value may be null). */
  prediction?: { value: unknown };
}

/**
 * RFC 3339 time -> microseconds since epoch (bigint). Date.parse keeps milliseconds only; the fraction's
 * digits 4-6 are added back. Throws on a time Date.parse cannot read (the schema validated it before).
 */
export function timeMicros(s: string): bigint {
  const ms = Date.parse(s);
  if (Number.isNaN(ms)) throw new Error(`not an RFC 3339 time: ${s}`);
  const frac = /T\d{2}:\d{2}:\d{2}\.(\d+)/.exec(s)?.[1] ?? "";
  const sub = Number(frac.padEnd(6, "0").slice(3, 6));
  return BigInt(ms) * 1000n + BigInt(sub);
}

const json = (v: unknown): string | null => (v === undefined ? null : JSON.stringify(v));

/** Flattens one validated event into its Parquet rows (see EVENT_COLUMNS). */
export function eventRows(e: ModelshipEvent): ArchiveRow[] {
  const time = timeMicros(e.time);
  const head: Cell[] = [e.id, e.type, e.source, e.subject, time, e.specversion, e.datacontenttype];
  if (e.type === FEEDBACK_EVENT_TYPE) {
    const d = e.data;
    const cells: Cell[] = [
      ...head,
      d.model?.name ?? null,
      d.model?.version ?? null,
      ...Array<Cell>(15).fill(null),
      0,
      null,
      null,
      d.eventId,
      json(d.groundTruth),
      timeMicros(d.time),
    ];
    return [{ cells }];
  }
  const d = e.data;
  const features = d.features;
  const predictions = d.predictions;
  const n = Math.max(1, features?.length ?? 0, predictions?.length ?? 0);
  const rows: ArchiveRow[] = [];
  for (let i = 0; i < n; i++) {
    const cells: Cell[] = [
      ...head,
      d.model.name,
      d.model.version ?? null,
      d.revision,
      d.variant,
      d.path,
      d.status,
      d.error?.type ?? null,
      d.error?.message ?? null,
      d.latencyMs,
      d.sampleRate,
      d.fallback,
      d.truncated ?? null,
      d.redacted ?? null,
      Object.entries(d.headers),
      d.request.id ?? null,
      i === 0 ? json(d.request) : null,
      i === 0 ? json(d.response) : null,
      i,
      features?.length ?? null,
      predictions?.length ?? null,
      null,
      null,
      null,
    ];
    const row: ArchiveRow = { cells };
    if (features && i < features.length) row.features = features[i];
    if (predictions && i < predictions.length) row.prediction = { value: predictions[i] };
    rows.push(row);
  }
  return rows;
}

const KIND_NUMBER = 1;
const KIND_BOOLEAN = 2;
const KIND_STRING = 4;
const KIND_OTHER = 8;

/** Tracks which JSON types a feature's present values had across a segment. */
export class KindTracker {
  private readonly seen = new Map<string, number>();

  /** Names in first-seen order. */
  get names(): string[] {
    return [...this.seen.keys()];
  }

  has(name: string): boolean {
    return this.seen.has(name);
  }

  add(name: string, v: unknown): void {
    const prev = this.seen.get(name) ?? 0;
    let bit = 0;
    if (v === null || v === undefined) bit = 0;
    else if (typeof v === "number") bit = KIND_NUMBER;
    else if (typeof v === "boolean") bit = KIND_BOOLEAN;
    else if (typeof v === "string") bit = KIND_STRING;
    else bit = KIND_OTHER;
    this.seen.set(name, prev | bit);
  }

  kind(name: string): ValueKind {
    return kindOf(this.seen.get(name) ?? 0);
  }

  kinds(): Record<string, ValueKind> {
    return Object.fromEntries(this.names.map((n) => [n, this.kind(n)]));
  }
}

function kindOf(bits: number): ValueKind {
  switch (bits) {
    case 0:
      return "VARCHAR";
    case KIND_NUMBER:
      return "DOUBLE";
    case KIND_BOOLEAN:
      return "BOOLEAN";
    case KIND_STRING:
      return "VARCHAR";
    default:
      return "JSON";
  }
}

/**
 * The SQL that turns a staged value (JSON text, see parquet-archive.ts) into its stored column: a number,
 * a boolean, a plain string, or the JSON text itself.
 */
export function castStaged(staged: string, kind: ValueKind): string {
  switch (kind) {
    case "DOUBLE":
      return `CAST(${staged} AS DOUBLE)`;
    case "BOOLEAN":
      return `CAST(${staged} AS BOOLEAN)`;
    case "VARCHAR":
      return `json_extract_string(CAST(${staged} AS JSON), '$')`;
    case "JSON":
      return `CAST(${staged} AS JSON)`;
  }
}

/** A feature staged as numbers (DOUBLE) and other values (JSON text) -> its stored column. */
export function castFeature(numbers: string, texts: string, kind: ValueKind): string {
  switch (kind) {
    case "DOUBLE":
      return numbers;
    case "JSON":
      return `COALESCE(CAST(${texts} AS JSON), CAST(${numbers} AS JSON))`;
    default:
      return castStaged(texts, kind);
  }
}
