// A drift worker thread: receives chunks of NDJSON lines, keeps its own WindowState, and returns the
// state when told the stream ended. Pure CPU work; the main thread does all I/O.
import { parentPort, workerData } from "node:worker_threads";
import { ChunkProcessor, JoinProcessor, type ProcessOptions } from "./process.js";
import type { Baseline } from "./profile.js";
import { WindowState } from "./window.js";

export interface WorkerInit {
  baseline: Baseline;
  opts: ProcessOptions;
  mode: "scan" | "join";
  truth?: [string, unknown][];
}

export type WorkerRequest = { type: "chunk"; buf: Uint8Array; origin: string } | { type: "end" };

const init = workerData as WorkerInit;
const state = new WindowState(init.baseline);
const scan = init.mode === "scan" ? new ChunkProcessor(state, init.opts) : undefined;
const join = init.mode === "join" ? new JoinProcessor(state, new Map(init.truth ?? [])) : undefined;

parentPort!.on("message", (msg: WorkerRequest) => {
  try {
    if (msg.type === "chunk") {
      const buf = Buffer.from(msg.buf.buffer, msg.buf.byteOffset, msg.buf.byteLength);
      if (scan) scan.processChunk(buf, msg.origin);
      else join!.processChunk(buf);
      parentPort!.postMessage({ type: "done" });
    } else {
      parentPort!.postMessage({ type: "state", state: state.state() });
    }
  } catch (err) {
    parentPort!.postMessage({ type: "error", message: (err as Error).stack ?? String(err) });
  }
});
