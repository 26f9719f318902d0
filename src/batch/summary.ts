// What a shard reports when it is done (its part), and the run's one summary made from all parts.
import type { BlockCounts } from "./shard.js";

export type Outcome = "Succeeded" | "Failed";

export interface PartSummary {
  runId: string;
  shard: number;
  shards: number;
  outcome: Outcome;
  rows: number;
  predicted: number;
  rejected: number;
  startedAt: string;
  finishedAt: string;
  message?: string;
  /** For block-dealt file inputs: what the merge needs to put the parts back in input order. */
  blocks?: BlockCounts;
}

export interface RunSummary {
  runId: string;
  shards: number;
  outcome: Outcome;
  rows: number;
  predicted: number;
  rejected: number;
  startedAt: string;
  finishedAt: string;
  /** Where the predictions are (a file URI or a table) and where the rejected rows are. */
  output: string;
  rejects: string;
  message?: string;
}

/**
 * The run's summary once every shard of `runId` has reported, else undefined. A run fails when any
 * shard failed for good; its message names each failed shard.
 */
export function combineParts(
  parts: PartSummary[],
  runId: string,
  shards: number,
  where: { output: string; rejects: string },
): RunSummary | undefined {
  const byShard = new Map<number, PartSummary>();
  for (const p of parts)
    if (p.runId === runId && p.shards === shards && p.shard < shards) byShard.set(p.shard, p);
  if (byShard.size < shards) return undefined;
  const all = [...byShard.values()].sort((a, b) => a.shard - b.shard);
  const failed = all.filter((p) => p.outcome === "Failed");
  const sum = (f: (p: PartSummary) => number) => all.reduce((s, p) => s + f(p), 0);
  return {
    runId,
    shards,
    outcome: failed.length > 0 ? "Failed" : "Succeeded",
    rows: sum((p) => p.rows),
    predicted: sum((p) => p.predicted),
    rejected: sum((p) => p.rejected),
    startedAt: all.map((p) => p.startedAt).sort()[0]!,
    finishedAt: all
      .map((p) => p.finishedAt)
      .sort()
      .at(-1)!,
    ...where,
    ...(failed.length > 0
      ? { message: failed.map((p) => `shard ${p.shard} of ${shards}: ${p.message ?? "failed"}`).join("; ") }
      : {}),
  };
}
