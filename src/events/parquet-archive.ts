// Writes closed NDJSON segments as Parquet files with DuckDB (layout and schema in parquet-layout.ts,
// where they go in archive-target.ts, all documented in docs/parquet.md). DuckDB runs with its extension
// loading switched off: parquet and json are linked into @duckdb/node-api's binary, nothing is downloaded.
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  BOOLEAN,
  DOUBLE,
  DuckDBDataChunk,
  DuckDBInstance,
  INTEGER,
  LIST,
  MAP,
  TIMESTAMPTZ,
  VARCHAR,
  listValue,
  mapValue,
  timestampTZValue,
  type DuckDBAppender,
  type DuckDBConnection,
  type DuckDBType,
  type DuckDBValue,
} from "@duckdb/node-api";
import { ModelshipEvent } from "./schema.js";
import {
  ARCHIVE_FORMAT_VERSION,
  EVENT_COLUMNS,
  KV_FEATURES,
  KV_FORMAT_VERSION,
  KindTracker,
  PREDICTION_COLUMN,
  castFeature,
  castStaged,
  eventRows,
  featureColumn,
  quoteIdent,
  quoteString,
  type Cell,
  type EventColumn,
  type ValueKind,
} from "./parquet-layout.js";

/**
 * Settings every modelship DuckDB runs with: no extension is ever installed or auto-loaded (parquet and
 * json are statically linked), no community extensions, and the configuration is locked so no query can
 * switch that back on.
 */
export const DUCKDB_SAFE_SETTINGS: Record<string, string> = {
  autoinstall_known_extensions: "false",
  autoload_known_extensions: "false",
  allow_community_extensions: "false",
};

export interface DuckDBOptions {
  threads?: number;
  /** e.g. "512MB": above it DuckDB spills to temp_directory instead of growing. */
  memoryLimit?: string;
  tempDirectory?: string;
}

/** An in-memory DuckDB with the safe settings, its configuration locked. */
export async function openDuckDB(opts: DuckDBOptions = {}): Promise<DuckDBInstance> {
  const settings: Record<string, string> = { ...DUCKDB_SAFE_SETTINGS };
  if (opts.threads !== undefined) settings.threads = String(opts.threads);
  if (opts.memoryLimit !== undefined) settings.memory_limit = opts.memoryLimit;
  // spills go to the system's temp directory, not ./.tmp (the working directory may be read-only)
  settings.temp_directory = opts.tempDirectory ?? join(tmpdir(), `modelship-duckdb-${process.pid}`);
  const instance = await DuckDBInstance.create(":memory:", settings);
  const conn = await instance.connect();
  try {
    await conn.run("SET lock_configuration = true");
  } finally {
    conn.closeSync();
  }
  return instance;
}

/** What converting one segment did. */
export interface SegmentConversion {
  /** Events written (inference and feedback). */
  events: number;
  /** Parquet rows (batch rows). */
  rows: number;
  /** Lines that did not parse as an event (the collector validated them, so this stays 0). */
  skipped: number;
  features: Record<string, ValueKind>;
  predictionKind: ValueKind;
}

const STAGED_TYPE: Record<EventColumn["type"], DuckDBType> = {
  VARCHAR,
  TIMESTAMPTZ,
  INTEGER,
  DOUBLE,
  BOOLEAN,
  "VARCHAR[]": LIST(VARCHAR),
  "MAP(VARCHAR, VARCHAR)": MAP(VARCHAR, VARCHAR),
  JSON: VARCHAR,
};

function stagedSql(c: EventColumn): string {
  return c.type === "JSON" ? "VARCHAR" : c.type;
}

function toDuck(c: EventColumn, v: Cell): DuckDBValue {
  if (v === null) return null;
  switch (c.type) {
    case "TIMESTAMPTZ":
      return timestampTZValue(v as bigint);
    case "VARCHAR[]":
      return listValue(v as string[]);
    case "MAP(VARCHAR, VARCHAR)":
      return mapValue((v as [string, string][]).map(([key, value]) => ({ key, value })));
    default:
      return v as DuckDBValue;
  }
}

const CHUNK_ROWS = 2048;
let stageSeq = 0;

/**
 * Converts one segment's lines into a Parquet file at outFile, with one DuckDB connection. Rows are staged
 * in a temporary table (feature values as JSON text, a column added per new feature), 2,048 at a time, so
 * memory stays bounded by DuckDB's limit whatever the segment's size. A feature is staged in two columns,
 * numbers as DOUBLE and any other value as JSON text; the final COPY types each feature column by the JSON
 * types its values had (see ValueKind).
 */
export async function writeSegmentParquet(
  conn: DuckDBConnection,
  lines: AsyncIterable<string>,
  outFile: string,
): Promise<SegmentConversion> {
  const table = `modelship_stage_${process.pid}_${stageSeq++}`;
  const fixed = EVENT_COLUMNS.map((c) => `${quoteIdent(c.name)} ${stagedSql(c)}`);
  await conn.run(`CREATE TEMP TABLE ${table} (${fixed.join(", ")}, ${PREDICTION_COLUMN} VARCHAR)`);
  const kinds = new KindTracker();
  const predictionKinds = new KindTracker();
  /** Feature name -> staging column index (f0, f1, ...). */
  const slots = new Map<string, number>();
  const types: DuckDBType[] = [...EVENT_COLUMNS.map((c) => STAGED_TYPE[c.type]), VARCHAR];
  let appender: DuckDBAppender | undefined;
  let columns: DuckDBValue[][] = [];
  let pending = 0;
  const result: SegmentConversion = {
    events: 0,
    rows: 0,
    skipped: 0,
    features: {},
    predictionKind: "VARCHAR",
  };

  const reset = () => {
    columns = types.map(() => new Array<DuckDBValue>(CHUNK_ROWS).fill(null));
    pending = 0;
  };
  const flush = async () => {
    if (pending === 0) return;
    appender ??= await conn.createAppender(table, "main", "temp");
    const chunk = DuckDBDataChunk.create(types, pending);
    chunk.setColumns(pending === CHUNK_ROWS ? columns : columns.map((c) => c.slice(0, pending)));
    appender.appendDataChunk(chunk);
    reset();
  };
  const addFeature = async (name: string) => {
    await flush();
    appender?.closeSync();
    appender = undefined;
    const slot = slots.size;
    slots.set(name, slot);
    await conn.run(`ALTER TABLE ${table} ADD COLUMN n${slot} DOUBLE`);
    await conn.run(`ALTER TABLE ${table} ADD COLUMN t${slot} VARCHAR`);
    types.push(DOUBLE, VARCHAR);
    reset();
  };
  reset();
  try {
    for await (const line of lines) {
      let event: ModelshipEvent;
      try {
        event = ModelshipEvent.parse(JSON.parse(line));
      } catch {
        result.skipped++;
        continue;
      }
      result.events++;
      for (const row of eventRows(event)) {
        for (const name of Object.keys(row.features ?? {})) if (!slots.has(name)) await addFeature(name);
        row.cells.forEach((v, i) => (columns[i]![pending] = toDuck(EVENT_COLUMNS[i]!, v)));
        const p = EVENT_COLUMNS.length;
        if (row.prediction !== undefined) {
          predictionKinds.add(PREDICTION_COLUMN, row.prediction.value);
          columns[p]![pending] = row.prediction.value === null ? null : JSON.stringify(row.prediction.value);
        }
        for (const [name, v] of Object.entries(row.features ?? {})) {
          kinds.add(name, v);
          const at = p + 1 + 2 * slots.get(name)!;
          if (typeof v === "number") columns[at]![pending] = v;
          else if (v !== null && v !== undefined) columns[at + 1]![pending] = JSON.stringify(v);
        }
        result.rows++;
        if (++pending === CHUNK_ROWS) await flush();
      }
    }
    await flush();
    appender?.closeSync();
    appender = undefined;
    result.features = kinds.kinds();
    result.predictionKind = predictionKinds.kind(PREDICTION_COLUMN);
    const select = [
      ...EVENT_COLUMNS.map((c) =>
        c.type === "JSON"
          ? `CAST(${quoteIdent(c.name)} AS JSON) AS ${quoteIdent(c.name)}`
          : quoteIdent(c.name),
      ),
      `${castStaged(PREDICTION_COLUMN, result.predictionKind)} AS ${PREDICTION_COLUMN}`,
      ...[...slots].map(
        ([name, slot]) =>
          `${castFeature(`n${slot}`, `t${slot}`, kinds.kind(name))} AS ${quoteIdent(featureColumn(name))}`,
      ),
    ];
    const kv = {
      [KV_FORMAT_VERSION]: ARCHIVE_FORMAT_VERSION,
      [KV_FEATURES]: JSON.stringify({ features: result.features, prediction: result.predictionKind }),
    };
    const kvSql = Object.entries(kv)
      .map(([k, v]) => `${quoteIdent(k)}: ${quoteString(v)}`)
      .join(", ");
    await conn.run(
      `COPY (SELECT ${select.join(", ")} FROM ${table}) TO ${quoteString(outFile)} (FORMAT parquet, COMPRESSION zstd, KV_METADATA {${kvSql}})`,
    );
    return result;
  } finally {
    appender?.closeSync();
    await conn.run(`DROP TABLE IF EXISTS ${table}`);
  }
}
