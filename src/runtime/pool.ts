// A fixed pool of inference worker threads; every worker holds a session for every model.
import type { Worker } from "node:worker_threads";
import { startWorker } from "../platform/worker-thread.js";
import type { Logger } from "../platform/log.js";
import type { TensorValue } from "./datatypes.js";
import {
  transferList,
  type FromWorker,
  type LoadedModel,
  type SessionSettings,
  type ToWorker,
} from "./worker-protocol.js";

export interface RunResult {
  outputs: Record<string, TensorValue>;
  computeMs: number;
}

/** A model failed to load; `unavailableProvider` marks a missing CUDA provider rather than a bad file. */
export class ModelLoadError extends Error {
  override name = "ModelLoadError";
  constructor(
    readonly key: string,
    message: string,
    readonly unavailableProvider = false,
  ) {
    super(message);
  }
}

/** The worker thread died under a request (a native crash), as opposed to the model rejecting its inputs. */
export class WorkerExitError extends Error {
  override name = "WorkerExitError";
}

// Under tsx (tests, bin/dev.ts) this module is worker.ts's sibling .ts file; from dist/ it is .js.
const fromSources = import.meta.url.endsWith(".ts");
const workerUrl = new URL(fromSources ? "./worker.ts" : "./worker.js", import.meta.url);

function createWorker(name: string): Worker {
  return startWorker(workerUrl, { name });
}

interface Pending {
  resolve(r: RunResult): void;
  reject(e: Error): void;
}

class PoolWorker {
  readonly thread: Worker;
  private nextId = 1;
  private pending = new Map<number, Pending>();
  busy = false;
  lastError: Error | undefined;

  constructor(
    readonly index: number,
    private onMessage: (w: PoolWorker, msg: FromWorker) => void,
    private onExit: (w: PoolWorker, err: Error) => void,
  ) {
    this.thread = createWorker(`ort-${index}`);
    this.thread.on("message", (msg: FromWorker) => {
      if (msg.kind === "result" || msg.kind === "error") {
        const p = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        if (p === undefined) return;
        if (msg.kind === "result") p.resolve({ outputs: msg.outputs, computeMs: msg.computeMs });
        else p.reject(new Error(msg.message));
        return;
      }
      this.onMessage(this, msg);
    });
    this.thread.on("error", (err) => {
      this.lastError = err;
      this.failAll(err);
    });
    this.thread.on("exit", (code) => {
      const err = new WorkerExitError(`inference worker ${index} exited with code ${code}`);
      this.failAll(err);
      this.onExit(this, err);
    });
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  post(msg: ToWorker, transfer: ArrayBuffer[] = []): void {
    this.thread.postMessage(msg, transfer);
  }

  run(key: string, feeds: Record<string, TensorValue>): Promise<RunResult> {
    const id = this.nextId++;
    return new Promise<RunResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.post({ kind: "run", id, key, feeds }, transferList(feeds));
    });
  }

  /** Resolves when no run is outstanding: terminating a thread inside session.run aborts the process. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) {
      await Promise.allSettled(
        [...this.pending.values()].map(
          (p) =>
            new Promise<void>((r) => {
              const { resolve, reject } = p;
              p.resolve = (v) => {
                resolve(v);
                r();
              };
              p.reject = (e) => {
                reject(e);
                r();
              };
            }),
        ),
      );
    }
  }
}

export interface PoolOptions {
  size: number;
  models: { key: string; path: string }[];
  settings: SessionSettings;
  log: Logger;
}

export class WorkerPool {
  private workers: PoolWorker[] = [];
  private idle: PoolWorker[] = [];
  private closing = false;
  /** Called whenever a worker becomes free, so the scheduler can hand it the next batch. */
  onIdle: () => void = () => {};

  private constructor(private opts: PoolOptions) {}

  /** Starts every worker and loads every model in each; resolves with what the first worker loaded. */
  static async start(opts: PoolOptions): Promise<{ pool: WorkerPool; models: LoadedModel[] }> {
    const pool = new WorkerPool(opts);
    const loads = Array.from({ length: opts.size }, (_, i) => pool.spawn(i));
    try {
      const results = await Promise.all(loads);
      return { pool, models: results[0]! };
    } catch (err) {
      await pool.close();
      throw err;
    }
  }

  private spawn(index: number): Promise<LoadedModel[]> {
    return new Promise<LoadedModel[]>((resolve, reject) => {
      let settled = false;
      const w = new PoolWorker(
        index,
        (worker, msg) => {
          if (settled) return;
          settled = true;
          if (msg.kind === "loaded") {
            this.workers[index] = worker;
            this.release(worker);
            resolve(msg.models);
          } else if (msg.kind === "load-error") {
            void worker.thread.terminate();
            reject(new ModelLoadError(msg.key, msg.message, msg.unavailableProvider));
          }
        },
        (worker, err) => {
          if (!settled) {
            settled = true;
            reject(worker.lastError ?? err);
            return;
          }
          this.idle = this.idle.filter((x) => x !== worker);
          if (this.closing) return;
          // A worker died (a native crash in a model): replace it so capacity comes back.
          this.opts.log.error({ worker: index, err }, "Restarting inference worker after it exited");
          this.spawn(index).catch((e: Error) =>
            this.opts.log.error({ worker: index, err: e }, "Failed to restart inference worker"),
          );
        },
      );
      w.post({ kind: "load", models: this.opts.models, settings: this.opts.settings });
    });
  }

  get size(): number {
    return this.opts.size;
  }

  get idleCount(): number {
    return this.idle.length;
  }

  /** Runs one batch on a free worker; callers must check idleCount first. */
  run(key: string, feeds: Record<string, TensorValue>): Promise<RunResult> {
    const w = this.idle.pop();
    if (w === undefined) return Promise.reject(new Error("no idle inference worker"));
    w.busy = true;
    return w.run(key, feeds).finally(() => this.release(w));
  }

  /** Runs on a specific worker regardless of the queue: used for the warm-up run on each worker. */
  async runOnEach(key: string, feeds: () => Record<string, TensorValue>): Promise<RunResult[]> {
    return Promise.all(this.workers.map((w) => w.run(key, feeds())));
  }

  private release(w: PoolWorker): void {
    w.busy = false;
    if (this.closing) return;
    this.idle.push(w);
    this.onIdle();
  }

  async close(): Promise<void> {
    this.closing = true;
    this.idle = [];
    await Promise.all(
      this.workers.filter(Boolean).map(async (w) => {
        await w.settled();
        await w.thread.terminate();
      }),
    );
  }
}
