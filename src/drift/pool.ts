// Spreads chunks over N worker threads (or processes them inline when N is 0), with at most a few
// chunks in flight per worker so memory stays bounded whatever the window size.
import type { Worker } from "node:worker_threads";
import { startWorker } from "../platform/worker-thread.js";
import { RangeReader, type FileRange } from "./file-ranges.js";
import { ParquetReader } from "./parquet-reader.js";
import { ChunkProcessor, JoinProcessor } from "./process.js";
import { WindowState, type WindowStateData } from "./window.js";
import type { WorkerInit } from "./worker.js";

const fromSources = import.meta.url.endsWith(".ts");
const workerUrl = new URL(fromSources ? "./worker.ts" : "./worker.js", import.meta.url);
const IN_FLIGHT = 3;

function createWorker(init: WorkerInit, index: number): Worker {
  return startWorker(workerUrl, { name: `drift-${index}`, workerData: init });
}

interface Slot {
  worker: Worker;
  inFlight: number;
  waiters: (() => void)[];
  failed?: Error;
  final?: (s: WindowStateData) => void;
}

export class DriftPool {
  private readonly slots: Slot[] = [];
  private readonly inline?: {
    state: WindowState;
    chunk: (b: Buffer, origin: string) => void;
    reader: RangeReader;
    parquet: ParquetReader;
  };

  constructor(init: WorkerInit, workers: number) {
    if (workers <= 0) {
      const state = new WindowState(init.baseline);
      const window = { since: init.opts.since, until: init.opts.until };
      if (init.mode === "scan") {
        const p = new ChunkProcessor(state, init.opts);
        const parquet = new ParquetReader(state, window);
        this.inline = { state, chunk: (b, o) => p.processChunk(b, o), reader: new RangeReader(), parquet };
      } else {
        const truth = new Map(init.truth ?? []);
        const p = new JoinProcessor(state, truth);
        const parquet = new ParquetReader(state, window, new Map(truth));
        this.inline = { state, chunk: (b) => p.processChunk(b), reader: new RangeReader(), parquet };
      }
      return;
    }
    for (let i = 0; i < workers; i++) {
      const worker = createWorker(init, i);
      const slot: Slot = { worker, inFlight: 0, waiters: [] };
      worker.on("message", (m: { type: string; state?: WindowStateData; message?: string }) => {
        if (m.type === "done") {
          slot.inFlight--;
          for (const s of this.slots) s.waiters.splice(0).forEach((w) => w());
        } else if (m.type === "state") slot.final?.(m.state!);
        else if (m.type === "error") this.fail(slot, new Error(`drift worker ${i} failed: ${m.message}`));
      });
      worker.on("error", (err) => this.fail(slot, err));
      worker.on("exit", (code) => {
        if (code !== 0) this.fail(slot, new Error(`drift worker ${i} exited with code ${code}`));
      });
      this.slots.push(slot);
    }
  }

  private fail(slot: Slot, err: Error): void {
    slot.failed ??= err;
    for (const w of slot.waiters.splice(0)) w();
    slot.final?.(undefined as never);
  }

  /** Hands a chunk (ending on a line boundary) to the next worker, waiting while it is busy. */
  async push(chunk: Buffer, origin: string): Promise<void> {
    if (this.inline) {
      this.inline.chunk(chunk, origin);
      return;
    }
    const slot = await this.nextSlot();
    // Copy into a transferable buffer (chunks may be views into a larger pooled buffer).
    const copy = new Uint8Array(chunk.length);
    copy.set(chunk);
    slot.worker.postMessage({ type: "chunk", buf: copy, origin }, [copy.buffer]);
  }

  /** Hands a byte range of a plain file to the next worker, which reads it itself. */
  async pushRange(range: FileRange): Promise<void> {
    if (this.inline) {
      const { chunk, reader } = this.inline;
      reader.read(range, (b) => chunk(b, range.file));
      return;
    }
    const slot = await this.nextSlot();
    slot.worker.postMessage({ type: "range", range });
  }

  /** Hands a Parquet file of the archive to the next worker, which reads it with its own DuckDB. */
  async pushParquet(file: string): Promise<void> {
    if (this.inline) {
      await this.inline.parquet.readFile(file);
      return;
    }
    const slot = await this.nextSlot();
    slot.worker.postMessage({ type: "parquet", file });
  }

  /** The least busy worker, once it has room; counts the message about to be sent to it. */
  private async nextSlot(): Promise<Slot> {
    // The least busy worker gets the chunk; when all are full, wait for whichever finishes first.
    let slot = this.leastBusy();
    while (slot.inFlight >= IN_FLIGHT && !slot.failed) {
      await new Promise<void>((r) => {
        let done = false;
        const wake = () => {
          if (!done) {
            done = true;
            r();
          }
        };
        for (const s of this.slots) s.waiters.push(wake);
      });
      slot = this.leastBusy();
    }
    const failed = this.slots.find((s) => s.failed);
    if (failed) throw failed.failed;
    slot.inFlight++;
    return slot;
  }

  private leastBusy(): Slot {
    let best = this.slots[0]!;
    for (const s of this.slots) if (s.inFlight < best.inFlight) best = s;
    return best;
  }

  /** Waits for every worker to finish and returns the merged state. */
  async finish(baselineState: WindowState): Promise<WindowState> {
    if (this.inline) {
      this.inline.parquet.close();
      baselineState.merge(this.inline.state.state());
      return baselineState;
    }
    const states = await Promise.all(
      this.slots.map(
        (slot) =>
          new Promise<WindowStateData>((resolve, reject) => {
            if (slot.failed) return reject(slot.failed);
            slot.final = (s) => (slot.failed ? reject(slot.failed) : resolve(s));
            slot.worker.postMessage({ type: "end" });
          }),
      ),
    );
    for (const s of states) baselineState.merge(s);
    return baselineState;
  }

  async close(): Promise<void> {
    this.inline?.parquet.close();
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
