// Consumer lag of the collector's Kafka ingest: how many records of each assigned partition the group has
// not yet stored and committed. Pure: the offsets come from the broker (kafka-consumer.ts asks for them).

/** What the broker reports, indexed by partition number (a hole where it did not answer for one). */
export interface PartitionOffsets {
  /** The log-end offset a read_committed consumer can reach (the last stable offset). */
  end: readonly (bigint | undefined)[];
  /** The log-start offset: the oldest record retention kept. */
  start: readonly (bigint | undefined)[];
  /** The group's committed offset: the next record to store; -1 when the group never committed one. */
  committed: readonly (bigint | undefined)[];
}

/**
 * Records left to store, per assigned partition: end - committed. A partition without a commit is read
 * from the start of the log (the consumer's fallback), so all its retained records are lag; a commit that
 * retention has passed counts from the log start too. Never negative (the end is read after the commit
 * and can be a moment older). A partition whose end offset is unknown has no entry: better no sample
 * than a made-up one.
 *
 *   end 120, committed 100             -> 20
 *   end 120, committed -1, start 30    -> 90
 *   end 120, committed 10, start 30    -> 90   (records 10..29 were deleted by retention)
 */
export function partitionLags(assigned: readonly number[], o: PartitionOffsets): Map<number, number> {
  const lags = new Map<number, number>();
  for (const p of assigned) {
    const end = o.end[p];
    if (end === undefined || end < 0n) continue;
    const start = o.start[p] ?? 0n;
    const committed = o.committed[p] ?? -1n;
    const from = committed >= 0n && committed > start ? committed : start;
    lags.set(p, end > from ? Number(end - from) : 0);
  }
  return lags;
}
