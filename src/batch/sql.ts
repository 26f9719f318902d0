// The SQL a batch run sends to PostgreSQL, built as text from quoted identifiers: pure, so quoting,
// sharding and the table layout are table-tested. Values always travel as bind parameters.
import { createHash } from "node:crypto";
import { sqlTablePattern } from "../api/v1alpha1/observability.js";
import type { OrtType } from "../runtime/datatypes.js";
import type { TensorSpec } from "../runtime/signature.js";
import type { Shard } from "./shard.js";

/** PostgreSQL's longest identifier (NAMEDATALEN - 1 bytes); a longer one would be cut silently. */
const MAX_IDENT_BYTES = 63;

/** A double-quoted identifier: any name is safe inside it once its double quotes are doubled. */
export function quoteIdent(name: string): string {
  if (name === "") throw new Error("an SQL identifier cannot be empty");
  if (name.includes("\0")) throw new Error("an SQL identifier cannot hold a NUL character");
  if (Buffer.byteLength(name, "utf8") > MAX_IDENT_BYTES)
    throw new Error(`the SQL identifier "${name}" is longer than PostgreSQL's ${MAX_IDENT_BYTES} bytes`);
  return `"${name.replace(/"/g, '""')}"`;
}

export interface TableName {
  schema?: string;
  name: string;
}

/** Parses TABLE or SCHEMA.TABLE, as spec.batch.output.sql.table allows it. */
export function parseTableName(s: string): TableName {
  if (!sqlTablePattern.test(s))
    throw new Error(
      `the table "${s}" must be TABLE or SCHEMA.TABLE in lower-case letters, digits and _ (at most 55 each)`,
    );
  const [a, b] = s.split(".");
  return b === undefined ? { name: a! } : { schema: a!, name: b };
}

/** The table (with a suffix on its name, e.g. _rejects) quoted and schema-qualified. */
export function qualified(t: TableName, suffix = ""): string {
  const name = quoteIdent(t.name + suffix);
  return t.schema === undefined ? name : `${quoteIdent(t.schema)}.${name}`;
}

/** The same as a plain string, for messages and to_regclass. */
export function displayName(t: TableName, suffix = ""): string {
  return t.schema === undefined ? t.name + suffix : `${t.schema}.${t.name}${suffix}`;
}

const SCALAR_TYPES: Record<OrtType, string> = {
  bool: "boolean",
  uint8: "smallint",
  int8: "smallint",
  int16: "smallint",
  uint16: "integer",
  int32: "integer",
  uint32: "bigint",
  int64: "bigint",
  uint64: "numeric",
  float16: "real",
  float32: "real",
  float64: "double precision",
  string: "text",
};

/** The column type of one model output: a row's value is the tensor without its batch dimension. */
export function columnType(spec: TensorSpec): string {
  const base = SCALAR_TYPES[spec.type];
  return spec.shape.length <= 1 ? base : `${base}[]`;
}

/** The input query without trailing semicolons and blanks, so it can be wrapped. */
export function stripQuery(query: string): string {
  const q = query.replace(/[\s;]+$/, "").trim();
  if (q === "") throw new Error("the query is empty");
  return q;
}

/** The column the run adds to the input rows: the id as text, as PostgreSQL prints it. */
export const ID_TEXT = "__modelship_id";

/** How the query is first planned, alone, so PostgreSQL's errors point into the user's own text. */
export const PROBE_PREFIX = "DECLARE modelship_probe NO SCROLL CURSOR FOR ";

/**
 * The first 32 bits of md5(id as text), mod N: the SQL twin of shardOfId in shard.ts. A null id hashes
 * like the empty string, so it still lands in exactly one shard (where it is rejected).
 */
export function shardPredicate(idExpr: string, shard: Shard): string {
  return `mod(('x' || substr(md5(coalesce((${idExpr})::text, '')), 1, 8))::bit(32)::bigint, ${shard.count}) = ${shard.index}`;
}

/**
 * The query a shard reads: the user's query as a subquery (newlines around it, so a trailing `--`
 * comment cannot swallow the parenthesis), its id as text beside every row, and only this shard's rows.
 */
export function shardQuery(query: string, idColumn: string, shard: Shard): string {
  const id = `modelship_input.${quoteIdent(idColumn)}`;
  const where = shard.count > 1 ? ` WHERE ${shardPredicate(id, shard)}` : "";
  return `SELECT modelship_input.*, (${id})::text AS ${quoteIdent(ID_TEXT)} FROM (\n${stripQuery(query)}\n) AS modelship_input${where}`;
}

/**
 * Declares a cursor over the query as written (DECLARE takes only SELECT and VALUES: a query that
 * writes is refused) without running it: a bad query fails here, before anything is written, and
 * `FETCH FORWARD 0` then gives its columns without reading a row.
 */
export function probeQuery(query: string): string {
  return `${PROBE_PREFIX}${stripQuery(query)}`;
}

export interface OutputColumn {
  /** The model output it holds (also the column name). */
  name: string;
  type: string;
}

/** What the prediction table holds besides run_id: the id column and one column per model output. */
export interface OutputLayout {
  table: TableName;
  idColumn: string;
  idType: string;
  columns: OutputColumn[];
}

const RUN_ID = "run_id";

export function outputLayout(
  table: TableName,
  idColumn: string,
  idType: string,
  outputs: TensorSpec[],
): OutputLayout {
  const columns = outputs.map((o) => ({ name: o.name, type: columnType(o) }));
  const names = [RUN_ID, idColumn, ...columns.map((c) => c.name)];
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined)
    throw new Error(
      `the table "${displayName(table)}" cannot hold a column "${dup}" twice: rename the id column or the model output`,
    );
  for (const n of names) quoteIdent(n);
  return { table, idColumn, idType, columns };
}

/**
 * The run's staging tables, in the target's schema: shards write there, and the last shard moves the
 * whole run into the target in one transaction, so the target never shows part of a run. The name
 * is a digest of table and run id: the same on every shard and every retry.
 */
export function stagingTables(table: TableName, runId: string) {
  const h = createHash("sha256")
    .update(`${displayName(table)}\n${runId}`)
    .digest();
  const base: TableName = { ...table, name: `modelship_batch_${h.subarray(0, 8).toString("hex")}` };
  return {
    data: base,
    rejects: { ...base, name: `${base.name}_rejects` },
    shards: { ...base, name: `${base.name}_shards` },
    /** pg_advisory_xact_lock's key: serialises creating and finalising this run's tables. */
    lockKey: h.readBigInt64BE(8).toString(),
  };
}

const cols = (l: OutputLayout) => l.columns.map((c) => quoteIdent(c.name));

export function createStagingSql(l: OutputLayout, s: ReturnType<typeof stagingTables>): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS ${qualified(s.data)} (shard integer NOT NULL, ordinal bigint NOT NULL, ${quoteIdent(l.idColumn)} ${l.idType}${l.columns.map((c) => `, ${quoteIdent(c.name)} ${c.type}`).join("")})`,
    `CREATE TABLE IF NOT EXISTS ${qualified(s.rejects)} (shard integer NOT NULL, line bigint NOT NULL, id text, reason text NOT NULL, input text)`,
    `CREATE TABLE IF NOT EXISTS ${qualified(s.shards)} (shard integer PRIMARY KEY, shards integer NOT NULL, outcome text NOT NULL, rows bigint NOT NULL, predicted bigint NOT NULL, rejected bigint NOT NULL, started_at timestamptz NOT NULL, finished_at timestamptz NOT NULL, message text)`,
  ];
}

/**
 * One batch of predictions as one statement: the rows travel as a single JSON parameter ($2) that
 * json_to_recordset turns into typed columns (JSON arrays become SQL arrays), $1 is the shard.
 */
export function insertPredictionsSql(l: OutputLayout, s: ReturnType<typeof stagingTables>): string {
  const fields = l.columns.map((c, i) => `c${i} ${c.type}`).join(", ");
  const select = l.columns.map((_, i) => `, r.c${i}`).join("");
  return `INSERT INTO ${qualified(s.data)} (shard, ordinal, ${quoteIdent(l.idColumn)}${cols(l)
    .map((c) => `, ${c}`)
    .join(
      "",
    )}) SELECT $1, r.o, r.i::${l.idType}${select} FROM json_to_recordset($2::json) AS r(o bigint, i text${fields ? `, ${fields}` : ""})`;
}

export function insertRejectsSql(s: ReturnType<typeof stagingTables>): string {
  return `INSERT INTO ${qualified(s.rejects)} (shard, line, id, reason, input) SELECT $1, r.l, r.i, r.r, r.x FROM json_to_recordset($2::json) AS r(l bigint, i text, r text, x text)`;
}

export function clearShardSql(s: ReturnType<typeof stagingTables>): string[] {
  return [
    `DELETE FROM ${qualified(s.data)} WHERE shard = $1`,
    `DELETE FROM ${qualified(s.rejects)} WHERE shard = $1`,
  ];
}

export function recordShardSql(s: ReturnType<typeof stagingTables>): string {
  return `INSERT INTO ${qualified(s.shards)} (shard, shards, outcome, rows, predicted, rejected, started_at, finished_at, message) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (shard) DO UPDATE SET shards = EXCLUDED.shards, outcome = EXCLUDED.outcome, rows = EXCLUDED.rows, predicted = EXCLUDED.predicted, rejected = EXCLUDED.rejected, started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at, message = EXCLUDED.message`;
}

/** The target tables, each with an index on run_id, for a target that does not exist yet. */
export function createTargetSql(l: OutputLayout): string[] {
  const t = l.table;
  return [
    `CREATE TABLE ${qualified(t)} (${RUN_ID} text NOT NULL, ${quoteIdent(l.idColumn)} ${l.idType}${l.columns.map((c) => `, ${quoteIdent(c.name)} ${c.type}`).join("")})`,
    `CREATE INDEX ON ${qualified(t)} (${RUN_ID})`,
  ];
}

export function createRejectsSql(t: TableName): string[] {
  return [
    `CREATE TABLE ${qualified(t, "_rejects")} (${RUN_ID} text NOT NULL, line bigint NOT NULL, id text, reason text NOT NULL, input text)`,
    `CREATE INDEX ON ${qualified(t, "_rejects")} (${RUN_ID})`,
  ];
}

export function createRunsSql(t: TableName): string[] {
  return [
    `CREATE TABLE ${qualified(t, "_runs")} (${RUN_ID} text PRIMARY KEY, outcome text NOT NULL, shards integer NOT NULL, rows bigint NOT NULL, predicted bigint NOT NULL, rejected bigint NOT NULL, started_at timestamptz NOT NULL, finished_at timestamptz NOT NULL)`,
  ];
}

/** Replaces the run's rows in the target with the staged ones ($1 = run id): a repeated run never duplicates. */
export function moveRunSql(l: OutputLayout, s: ReturnType<typeof stagingTables>): string[] {
  const t = l.table;
  const c = [quoteIdent(l.idColumn), ...cols(l)].join(", ");
  return [
    `DELETE FROM ${qualified(t)} WHERE ${RUN_ID} = $1`,
    `INSERT INTO ${qualified(t)} (${RUN_ID}, ${c}) SELECT $1, ${c} FROM ${qualified(s.data)}`,
    `DELETE FROM ${qualified(t, "_rejects")} WHERE ${RUN_ID} = $1`,
    `INSERT INTO ${qualified(t, "_rejects")} (${RUN_ID}, line, id, reason, input) SELECT $1, line, id, reason, input FROM ${qualified(s.rejects)}`,
  ];
}

export function recordRunSql(t: TableName): string {
  return `INSERT INTO ${qualified(t, "_runs")} (${RUN_ID}, outcome, shards, rows, predicted, rejected, started_at, finished_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (${RUN_ID}) DO UPDATE SET outcome = EXCLUDED.outcome, shards = EXCLUDED.shards, rows = EXCLUDED.rows, predicted = EXCLUDED.predicted, rejected = EXCLUDED.rejected, started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at`;
}

export function dropStagingSql(s: ReturnType<typeof stagingTables>): string {
  return `DROP TABLE IF EXISTS ${qualified(s.data)}, ${qualified(s.rejects)}, ${qualified(s.shards)}`;
}
