// A drift worker thread: receives chunks of NDJSON lines, byte ranges of NDJSON files or Parquet files,
// keeps its own WindowState, and returns the state when told the stream ended.
import { parentPort, workerData } from "node:worker_threads";
import { RangeReader, type FileRange } from "./file-ranges.js";
import { ParquetReader } from "./parquet-reader.js";
import { ChunkProcessor, JoinProcessor, type ProcessOptions } from "./process.js";
import type { Baseline } from "./profile.js";
import { WindowState } from "./window.js";

export interface WorkerInit {
  baseline: Baseline;
  opts: ProcessOptions;
  mode: "scan" | "join";
  truth?: [string, unknown][];
}

export type WorkerRequest =
  | { type: "chunk"; buf: Uint8Array; origin: string }
  | { type: "range"; range: FileRange }
  | { type: "parquet"; file: string }
  | { type: "end" };

const init = workerData as WorkerInit;
const state = new WindowState(init.baseline);
const scan = init.mode === "scan" ? new ChunkProcessor(state, init.opts) : undefined;
const join = init.mode === "join" ? new JoinProcessor(state, new Map(init.truth ?? [])) : undefined;
const reader = new RangeReader();
const parquet = new ParquetReader(
  state,
  { since: init.opts.since, until: init.opts.until },
  init.mode === "join" ? new Map(init.truth ?? []) : undefined,
);
// Parquet files are read with DuckDB's async API: messages run one after another on this chain.
let chain: Promise<void> = Promise.resolve();

function processChunk(buf: Buffer, origin: string): void {
  if (scan) scan.processChunk(buf, origin);
  else join!.processChunk(buf);
}

function fail(err: unknown): void {
  parentPort!.postMessage({ type: "error", message: (err as Error).stack ?? String(err) });
}

parentPort!.on("message", (msg: WorkerRequest) => {
  if (msg.type === "parquet") {
    chain = chain
      .then(() => parquet.readFile(msg.file))
      .then(() => parentPort!.postMessage({ type: "done" }), fail);
    return;
  }
  if (msg.type === "end") {
    chain = chain.then(() => {
      parquet.close();
      parentPort!.postMessage({ type: "state", state: state.state() });
    }, fail);
    return;
  }
  try {
    if (msg.type === "chunk") {
      processChunk(Buffer.from(msg.buf.buffer, msg.buf.byteOffset, msg.buf.byteLength), msg.origin);
      parentPort!.postMessage({ type: "done" });
    } else if (msg.type === "range") {
      const { range } = msg;
      reader.read(range, (b) => processChunk(b, range.file));
      parentPort!.postMessage({ type: "done" });
    }
  } catch (err) {
    fail(err);
  }
});
