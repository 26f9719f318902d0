// The archive's conversion thread: turns one closed NDJSON segment into a Parquet file at a time with its
// own DuckDB, so reading, parsing and appending a segment's events never holds the collector's event loop
// (its HTTP intake, its Kafka consumer) for the seconds a large segment takes. src/collector/archive.ts
// owns the queue, the target, the markers and the metrics; this thread only converts.
import { parentPort, workerData } from "node:worker_threads";
import { openDuckDB, writeSegmentParquet, type SegmentConversion } from "../events/parquet-archive.js";
import { segmentLines } from "./read.js";

export interface ArchiveWorkerInit {
  /** DuckDB's memory cap for a conversion (it spills beyond it). */
  memoryLimit: string;
}

export interface ConvertRequest {
  id: number;
  /** The NDJSON segment (read from `<segment>.gz` when it was rotated meanwhile). */
  segment: string;
  /** Where to write the Parquet file. */
  file: string;
}

export type ConvertReply =
  | { id: number; conversion: SegmentConversion }
  | { id: number; error: string }
  | { id: 0; ready: true }
  | { id: 0; fatal: string };

const init = workerData as ArchiveWorkerInit;
const port = parentPort!;
const opened = openDuckDB({ threads: 1, memoryLimit: init.memoryLimit }).then(async (db) => ({
  db,
  conn: await db.connect(),
}));
opened.then(
  () => port.postMessage({ id: 0, ready: true } satisfies ConvertReply),
  (err: Error) => port.postMessage({ id: 0, fatal: err.message } satisfies ConvertReply),
);

// one conversion at a time, in the order they were asked for
let chain: Promise<void> = Promise.resolve();
port.on("message", (m: ConvertRequest | { close: true }) => {
  chain = chain.then(async () => {
    const { db, conn } = await opened;
    if ("close" in m) {
      conn.closeSync();
      db.closeSync();
      port.close();
      return;
    }
    try {
      const conversion = await writeSegmentParquet(conn, segmentLines(m.segment), m.file);
      port.postMessage({ id: m.id, conversion } satisfies ConvertReply);
    } catch (err) {
      port.postMessage({ id: m.id, error: (err as Error).message } satisfies ConvertReply);
    }
  });
});
