// Sharding one batch run over the pods of an Indexed Job: which rows each shard takes, and how the
// shards' parts go back together in input order. Pure, so the maths is table-tested.
import { createHash } from "node:crypto";

/** This process's share of a run: shard `index` of `count` (the Job's completion index and completions). */
export interface Shard {
  index: number;
  count: number;
}

export function checkShard(index: number, count: number): Shard {
  if (!Number.isInteger(count) || count < 1)
    throw new RangeError(`the shard count must be >= 1, got ${count}`);
  if (!Number.isInteger(index) || index < 0 || index >= count)
    throw new RangeError(`the shard index must be in 0..${count - 1}, got ${index}`);
  return { index, count };
}

/**
 * File inputs are dealt in blocks of `blockRows` records, round-robin: block b goes to shard b mod N.
 * Every shard reads the whole stream (an s3 or https body cannot be split by bytes) but parses and
 * predicts only its own rows. Worked example, 10 records, blockRows 2, 3 shards:
 *   records 0-1 -> block 0 -> shard 0;  2-3 -> block 1 -> shard 1;  4-5 -> block 2 -> shard 2;
 *   6-7 -> block 3 -> shard 0 (its local block 1);  8-9 -> block 4 -> shard 1 (its local block 1).
 */
export function blockOf(record: number, blockRows: number): number {
  return Math.floor(record / blockRows);
}

export function ownsBlock(block: number, shard: Shard): boolean {
  return block % shard.count === shard.index;
}

/** The block's index among the blocks its shard owns (the order the shard writes them in). */
export function localBlock(block: number, shard: Shard): number {
  return Math.floor(block / shard.count);
}

/**
 * What a part wrote per local block: [predicted, rejected] lines. Only uneven blocks are listed (some row
 * rejected, or the input's short last block); every other block has exactly blockRows predictions.
 */
export interface BlockCounts {
  blockRows: number;
  blocks: number;
  uneven: Record<string, [number, number]>;
}

/** Counts a shard's outcomes per local block, in the order they are written. */
export class BlockCounter {
  private blocks = 0;
  private current = -1;
  private predicted = 0;
  private rejected = 0;
  private readonly uneven: Record<string, [number, number]> = {};

  constructor(private readonly blockRows: number) {}

  add(local: number, predicted: boolean): void {
    if (local !== this.current) {
      if (local < this.current) throw new Error(`block ${local} came after block ${this.current}`);
      this.close();
      // a block with no outcome at all cannot happen: every record of a block is either predicted or rejected
      this.current = local;
      this.blocks = local + 1;
    }
    if (predicted) this.predicted++;
    else this.rejected++;
  }

  private close(): void {
    if (this.current >= 0 && (this.predicted !== this.blockRows || this.rejected !== 0))
      this.uneven[String(this.current)] = [this.predicted, this.rejected];
    this.predicted = 0;
    this.rejected = 0;
  }

  result(): BlockCounts {
    this.close();
    this.current = Number.MAX_SAFE_INTEGER;
    return { blockRows: this.blockRows, blocks: this.blocks, uneven: { ...this.uneven } };
  }
}

export interface MergeStep {
  part: number;
  predicted: number;
  rejected: number;
}

/**
 * The order to copy the parts' lines back so the merged output is in input order, as one unsharded
 * run writes it: global block b is local block floor(b/N) of part b mod N. Throws when the parts do not
 * fit together (a part from another run or another shard count).
 */
export function* mergePlan(parts: BlockCounts[]): Generator<MergeStep> {
  const n = parts.length;
  const total = parts.reduce((s, p) => s + p.blocks, 0);
  for (let b = 0; b < total; b++) {
    const part = b % n;
    const local = Math.floor(b / n);
    const p = parts[part]!;
    if (local >= p.blocks)
      throw new Error(
        `part ${part} holds ${p.blocks} blocks, block ${b} of ${total} needs its block ${local}`,
      );
    const [predicted, rejected] = p.uneven[String(local)] ?? [p.blockRows, 0];
    yield { part, predicted, rejected };
  }
}

/**
 * The shard of a SQL row: the first 32 bits of md5(id as text), mod N. The SQL twin is
 * shardPredicate in sql.ts (md5 is a documented function on every PostgreSQL, unlike hashtext).
 */
export function shardOfId(idText: string, count: number): number {
  const h = createHash("md5").update(idText, "utf8").digest();
  return h.readUInt32BE(0) % count;
}
