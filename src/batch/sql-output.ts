// Predictions to a PostgreSQL table. Each shard writes its part into the run's staging tables in one
// transaction (a failed shard leaves nothing; its retry replaces its rows); the last shard to finish
// moves the whole run into the target, its _rejects and _runs tables in one transaction, creating
// them if missing and replacing the run's earlier rows, so a repeated run never duplicates and a
// failed one leaves the target as it was.
import type pg from "pg";
import type { Logger } from "../platform/log.js";
import type { TensorSpec } from "../runtime/signature.js";
import { connect } from "./connection.js";
import { PermanentError, sqlFailure } from "./errors.js";
import type { Prediction, PredictionOutput, Rejection } from "./io.js";
import type { Shard } from "./shard.js";
import {
  clearShardSql,
  createRejectsSql,
  createRunsSql,
  createStagingSql,
  createTargetSql,
  displayName,
  dropStagingSql,
  insertPredictionsSql,
  insertRejectsSql,
  moveRunSql,
  outputLayout,
  qualified,
  recordRunSql,
  recordShardSql,
  stagingTables,
  type OutputLayout,
  type TableName,
} from "./sql.js";
import { combineParts, type PartSummary, type RunSummary } from "./summary.js";

export interface SqlOutputOptions {
  table: TableName;
  connection: pg.ClientConfig;
  /** The id column of the prediction table. */
  idField: string;
  runId: string;
  shard: Shard;
  log: Logger;
}

const TABLE_FIELD = "spec.batch.output.sql.table";

interface ShardRow {
  shard: number;
  shards: number;
  outcome: "Succeeded" | "Failed";
  rows: string;
  predicted: string;
  rejected: string;
  started_at: Date;
  finished_at: Date;
  message: string | null;
}

export class SqlOutput implements PredictionOutput {
  readonly output: string;
  readonly rejects: string;
  private client: pg.Client | undefined;
  private layout: OutputLayout | undefined;
  private readonly staging: ReturnType<typeof stagingTables>;
  private inTransaction = false;

  constructor(private readonly opts: SqlOutputOptions) {
    this.output = displayName(opts.table);
    this.rejects = displayName(opts.table, "_rejects");
    this.staging = stagingTables(opts.table, opts.runId);
  }

  private get what(): string {
    return `${TABLE_FIELD} "${displayName(this.opts.table)}"`;
  }

  private async connected(): Promise<pg.Client> {
    this.client ??= await connect(
      this.opts.connection,
      "spec.batch.output.sql.connectionSecret (or input.sql.connectionSecret)",
    );
    return this.client;
  }

  async open(outputs: TensorSpec[], idType: string): Promise<void> {
    try {
      this.layout = outputLayout(this.opts.table, this.opts.idField, idType, outputs);
    } catch (err) {
      throw new PermanentError(`${TABLE_FIELD}: ${(err as Error).message}`);
    }
    const c = await this.connected();
    try {
      // CREATE TABLE IF NOT EXISTS races with itself; the lock makes the shards take turns
      await c.query("BEGIN");
      await c.query("SELECT pg_advisory_xact_lock($1::bigint)", [this.staging.lockKey]);
      for (const sql of createStagingSql(this.layout, this.staging)) await c.query(sql);
      await c.query("COMMIT");
    } catch (err) {
      await c.query("ROLLBACK").catch(() => {});
      throw sqlFailure(`cannot create the run's staging tables beside ${this.what}`, err);
    }
    try {
      await c.query("BEGIN");
      this.inTransaction = true;
      for (const sql of clearShardSql(this.staging)) await c.query(sql, [this.opts.shard.index]);
    } catch (err) {
      throw sqlFailure(`cannot write the predictions for ${this.what}`, err);
    }
  }

  async write(predictions: Prediction[], rejects: Rejection[]): Promise<void> {
    const c = this.client!;
    const shard = this.opts.shard.index;
    try {
      if (predictions.length > 0) {
        const cols = this.layout!.columns;
        const rows = predictions.map((p) => {
          const r: Record<string, unknown> = { o: p.ordinal, i: p.idText };
          cols.forEach((col, i) => (r[`c${i}`] = p.values[col.name] ?? null));
          return r;
        });
        await c.query(insertPredictionsSql(this.layout!, this.staging), [shard, JSON.stringify(rows)]);
      }
      if (rejects.length > 0) {
        const rows = rejects.map((r) => ({
          l: r.line,
          i:
            r.id === undefined || r.id === null
              ? null
              : typeof r.id === "string"
                ? r.id
                : JSON.stringify(r.id),
          r: r.reason,
          x: r.input,
        }));
        await c.query(insertRejectsSql(this.staging), [shard, JSON.stringify(rows)]);
      }
    } catch (err) {
      throw sqlFailure(`cannot write the predictions for ${this.what}`, err);
    }
  }

  private async recordShard(part: PartSummary): Promise<void> {
    await this.client!.query(recordShardSql(this.staging), [
      part.shard,
      part.shards,
      part.outcome,
      part.rows,
      part.predicted,
      part.rejected,
      part.startedAt,
      part.finishedAt,
      part.message ?? null,
    ]);
  }

  async commit(part: PartSummary): Promise<void> {
    try {
      await this.recordShard(part);
      await this.client!.query("COMMIT");
      this.inTransaction = false;
    } catch (err) {
      throw sqlFailure(`cannot commit the predictions for ${this.what}`, err);
    }
  }

  async abort(): Promise<void> {
    if (this.inTransaction) await this.client?.query("ROLLBACK").catch(() => {});
    this.inTransaction = false;
  }

  async recordFailure(part: PartSummary): Promise<void> {
    await this.abort();
    // only once the staging tables exist: a shard that never got that far leaves nothing anywhere
    const c = await this.connected().catch(() => undefined);
    if (!c) return;
    const exists = await c.query<{ t: string | null }>("SELECT to_regclass($1)::text AS t", [
      displayName(this.staging.shards),
    ]);
    if (exists.rows[0]!.t === null) return;
    await this.recordShard(part);
  }

  async finalize(): Promise<RunSummary | undefined> {
    const c = await this.connected();
    const { table, runId, shard, log } = this.opts;
    const where = { output: this.output, rejects: this.rejects };
    let run: RunSummary | undefined;
    try {
      await c.query("BEGIN");
      await c.query("SELECT pg_advisory_xact_lock($1::bigint)", [this.staging.lockKey]);
      const exists = await c.query<{ t: string | null }>("SELECT to_regclass($1)::text AS t", [
        displayName(this.staging.shards),
      ]);
      if (exists.rows[0]!.t === null) {
        // another shard has moved the run already
        await c.query("COMMIT");
        return await this.finalisedElsewhere(where);
      }
      const shards = await c.query<ShardRow>(`SELECT * FROM ${qualified(this.staging.shards)}`);
      run = combineParts(
        shards.rows.map((r) => partOf(r, runId)),
        runId,
        shard.count,
        where,
      );
      if (run === undefined) {
        await c.query("COMMIT");
        return undefined;
      }
      if (run.outcome === "Succeeded") {
        const regclass = async (suffix: string) =>
          (
            await c.query<{ t: string | null }>("SELECT to_regclass($1)::text AS t", [
              displayName(table, suffix),
            ])
          ).rows[0]!.t;
        if ((await regclass("")) === null)
          for (const sql of createTargetSql(this.layout!)) await c.query(sql);
        if ((await regclass("_rejects")) === null)
          for (const sql of createRejectsSql(table)) await c.query(sql);
        if ((await regclass("_runs")) === null) for (const sql of createRunsSql(table)) await c.query(sql);
        for (const sql of moveRunSql(this.layout!, this.staging)) await c.query(sql, [runId]);
        await c.query(recordRunSql(table), [
          runId,
          run.outcome,
          run.shards,
          run.rows,
          run.predicted,
          run.rejected,
          run.startedAt,
          run.finishedAt,
        ]);
      }
      await c.query(dropStagingSql(this.staging));
      await c.query("COMMIT");
    } catch (err) {
      await c.query("ROLLBACK").catch(() => {});
      const failure = sqlFailure(`cannot move the run into ${this.what}`, err);
      if (failure instanceof PermanentError) {
        // no retry can move it: leave no staging tables behind
        await c.query(dropStagingSql(this.staging)).catch(() => {});
      }
      throw failure;
    }
    log.info({ runId, table: this.output, outcome: run.outcome }, "Finalised batch run");
    return run;
  }

  /** The run as the shard that moved it recorded it in TABLE_runs. */
  private async finalisedElsewhere(where: {
    output: string;
    rejects: string;
  }): Promise<RunSummary | undefined> {
    const { table, runId } = this.opts;
    try {
      const r = await this.client!.query<{
        outcome: "Succeeded" | "Failed";
        shards: number;
        rows: string;
        predicted: string;
        rejected: string;
        started_at: Date;
        finished_at: Date;
      }>(`SELECT * FROM ${qualified(table, "_runs")} WHERE run_id = $1`, [runId]);
      const row = r.rows[0];
      if (!row) return undefined;
      return {
        runId,
        shards: row.shards,
        outcome: row.outcome,
        rows: Number(row.rows),
        predicted: Number(row.predicted),
        rejected: Number(row.rejected),
        startedAt: row.started_at.toISOString(),
        finishedAt: row.finished_at.toISOString(),
        ...where,
      };
    } catch {
      return undefined;
    }
  }

  async close(): Promise<void> {
    await this.abort();
    await this.client?.end().catch(() => {});
    this.client = undefined;
  }
}

function partOf(r: ShardRow, runId: string): PartSummary {
  return {
    runId,
    shard: r.shard,
    shards: r.shards,
    outcome: r.outcome,
    rows: Number(r.rows),
    predicted: Number(r.predicted),
    rejected: Number(r.rejected),
    startedAt: r.started_at.toISOString(),
    finishedAt: r.finished_at.toISOString(),
    ...(r.message !== null ? { message: r.message } : {}),
  };
}
