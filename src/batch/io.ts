// What a batch run reads rows from and writes predictions to: a file or a PostgreSQL query in, a file
// or a PostgreSQL table out, in any combination.
import type { TensorSpec } from "../runtime/signature.js";
import type { PartSummary, RunSummary } from "./summary.js";

/** One input row of this shard, or the reason it could not be read as one. */
export interface InputRecord {
  /** The file's line number, or the row's ordinal in this shard's query result (both from 1). */
  line: number;
  /** The record's block among this shard's blocks, for block-dealt file inputs. */
  block?: number;
  /** The row as read (a file line), for the rejects; undefined for SQL rows (their JSON is used). */
  raw?: string;
  row?: Record<string, unknown>;
  /** The id as the database prints it, for SQL inputs. */
  idText?: string;
  error?: string;
}

export interface RowInput {
  /** The SQL type of the ids, for a table output: the id column's type for a query, else text. */
  readonly idType: string;
  records(): AsyncIterable<InputRecord>;
  close(): Promise<void>;
}

export interface Prediction {
  id: unknown;
  idText: string;
  /** The row's position in this shard's output (from 0). */
  ordinal: number;
  values: Record<string, unknown>;
}

export interface Rejection {
  line: number;
  id?: unknown;
  reason: string;
  /** The row as read. */
  input: string;
}

export interface PredictionOutput {
  /** Where the run's predictions and its rejected rows end up, for the summary and the status. */
  readonly output: string;
  readonly rejects: string;
  open(outputs: TensorSpec[], idType: string): Promise<void>;
  /** In input order; called one batch at a time. */
  write(predictions: Prediction[], rejects: Rejection[]): Promise<void>;
  /** Makes this shard's part durable and records it: the run is complete once every shard has. */
  commit(part: PartSummary): Promise<void>;
  /** Drops what this attempt wrote. */
  abort(): Promise<void>;
  /** Records that this shard failed for good, so the run can be summarised as failed. */
  recordFailure(part: PartSummary): Promise<void>;
  /**
   * Once every shard has recorded its part: puts the run's output in place (all of it, or nothing
   * for a failed run) and returns its summary; undefined while shards are missing.
   */
  finalize(): Promise<RunSummary | undefined>;
  close(): Promise<void>;
}
