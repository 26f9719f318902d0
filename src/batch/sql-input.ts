// Rows from a SQL query on PostgreSQL, read through a server-side cursor in a read-only transaction,
// so memory stays bounded and every FETCH sees the same snapshot. Shards split the rows by their id.
import type pg from "pg";
import { connect } from "./connection.js";
import { PermanentError, sqlFailure } from "./errors.js";
import type { InputRecord, RowInput } from "./io.js";
import type { Shard } from "./shard.js";
import { ID_TEXT, PROBE_PREFIX, probeQuery, shardQuery } from "./sql.js";

export interface SqlInputOptions {
  query: string;
  idColumn: string;
  connection: pg.ClientConfig;
  shard: Shard;
  /** Rows per FETCH. */
  fetchRows: number;
}

const QUERY_FIELD = "spec.batch.input.sql.query";
const CURSOR = "modelship_input";

export class SqlInput implements RowInput {
  private constructor(
    private readonly client: pg.Client,
    private readonly opts: SqlInputOptions,
    readonly idType: string,
  ) {}

  /**
   * Connects, opens the transaction and plans the query: a bad connection, bad SQL or a missing id
   * column fails here with a message naming the field, before anything is written anywhere.
   */
  static async open(opts: SqlInputOptions): Promise<SqlInput> {
    const client = await connect(opts.connection, "spec.batch.input.sql.connectionSecret");
    try {
      await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      let fields: pg.FieldDef[];
      try {
        await client.query(probeQuery(opts.query));
        fields = (await client.query("FETCH FORWARD 0 FROM modelship_probe")).fields;
        await client.query("CLOSE modelship_probe");
      } catch (err) {
        throw sqlFailure(`the input query (${QUERY_FIELD}) failed`, err, PROBE_PREFIX.length);
      }
      const id = fields.find((f) => f.name === opts.idColumn);
      if (id === undefined)
        throw new PermanentError(
          `the input query (${QUERY_FIELD}) returns no column "${opts.idColumn}" (spec.batch.input.sql.idColumn); its columns: ${fields.map((f) => f.name).join(", ")}`,
        );
      const type = await client.query<{ t: string }>("SELECT format_type($1, $2) AS t", [
        id.dataTypeID,
        id.dataTypeModifier,
      ]);
      await client.query(
        `DECLARE ${CURSOR} NO SCROLL CURSOR FOR ${shardQuery(opts.query, opts.idColumn, opts.shard)}`,
      );
      return new SqlInput(client, opts, type.rows[0]!.t);
    } catch (err) {
      await client.end().catch(() => {});
      throw err;
    }
  }

  async *records(): AsyncIterable<InputRecord> {
    let line = 0;
    for (;;) {
      let rows: Record<string, unknown>[];
      try {
        rows = (await this.client.query(`FETCH FORWARD ${this.opts.fetchRows} FROM ${CURSOR}`)).rows;
      } catch (err) {
        throw sqlFailure(`the input query (${QUERY_FIELD}) failed while reading`, err);
      }
      if (rows.length === 0) return;
      for (const row of rows) {
        line++;
        const idText = row[ID_TEXT] as string | null;
        delete row[ID_TEXT];
        if (idText === null) {
          yield { line, row, error: `the id column "${this.opts.idColumn}" is null` };
          continue;
        }
        yield { line, row, idText };
      }
    }
  }

  async close(): Promise<void> {
    // read-only: nothing to keep; ending the session also closes the cursor
    await this.client.query("ROLLBACK").catch(() => {});
    await this.client.end().catch(() => {});
  }
}
