// A drift worker thread: receives chunks of NDJSON lines, keeps its own WindowState, and returns the
// state when told the stream ended. Pure CPU work; the main thread does all I/O.
import { parentPort, workerData } from "node:worker_threads";
import { RangeReader, type FileRange } from "./file-ranges.js";
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
  { type: "chunk"; buf: Uint8Array; origin: string } | { type: "range"; range: FileRange } | { type: "end" };

const init = workerData as WorkerInit;
const state = new WindowState(init.baseline);
const scan = init.mode === "scan" ? new ChunkProcessor(state, init.opts) : undefined;
const join = init.mode === "join" ? new JoinProcessor(state, new Map(init.truth ?? [])) : undefined;
const reader = new RangeReader();

function processChunk(buf: Buffer, origin: string): void {
  if (scan) scan.processChunk(buf, origin);
  else join!.processChunk(buf);
}

parentPort!.on("message", (msg: WorkerRequest) => {
  try {
    if (msg.type === "chunk") {
      processChunk(Buffer.from(msg.buf.buffer, msg.buf.byteOffset, msg.buf.byteLength), msg.origin);
      parentPort!.postMessage({ type: "done" });
    } else if (msg.type === "range") {
      const { range } = msg;
      reader.read(range, (b) => processChunk(b, range.file));
      parentPort!.postMessage({ type: "done" });
    } else {
      parentPort!.postMessage({ type: "state", state: state.state() });
    }
  } catch (err) {
    parentPort!.postMessage({ type: "error", message: (err as Error).stack ?? String(err) });
  }
});
