// Per-model bounded queues feeding the worker pool, with dynamic batching along dimension 0.
import { performance } from "node:perf_hooks";
import type { TensorValue } from "./datatypes.js";
import { concatFeeds, rowCount, shapeKey, splitOutputs } from "./batching.js";
import { WorkerExitError, type RunResult, type WorkerPool } from "./pool.js";

export interface BatchPolicy {
  batchable: boolean;
  /** Most rows per batch; 1 turns batching off. */
  maxBatchSize: number;
  /**
   * How long a lone request may wait for batch-mates while a worker is free. 0 = never wait: a batch is
   * whatever queued up while the workers were busy, so batching costs no latency when the server is idle.
   */
  maxQueueDelayMs: number;
  /** Most requests waiting for this model; beyond it submit() throws QueueFullError. */
  maxQueue: number;
}

export interface JobResult {
  outputs: Record<string, TensorValue>;
  queueMs: number;
  computeMs: number;
  batchRows: number;
}

export class QueueFullError extends Error {
  override name = "QueueFullError";
}
export class TimeoutError extends Error {
  override name = "TimeoutError";
}
/** The model itself rejected the inputs (onnxruntime's message), as opposed to a server fault. */
export class InferenceError extends Error {
  override name = "InferenceError";
}

interface Job {
  feeds: Record<string, TensorValue>;
  rows: number;
  shape: string;
  enqueuedAt: number;
  /** Set after its batch failed: it then runs alone, so one bad request cannot fail its batch-mates. */
  solo: boolean;
  settled: boolean;
  timer?: NodeJS.Timeout;
  resolve(r: JobResult): void;
  reject(e: Error): void;
}

interface ModelQueue {
  key: string;
  policy: BatchPolicy;
  jobs: Job[];
}

export interface SchedulerHooks {
  onBatch?(key: string, rows: number): void;
  onDepth?(key: string, depth: number): void;
}

export class Scheduler {
  private queues = new Map<string, ModelQueue>();
  private outstanding = 0;
  private drainWaiters: (() => void)[] = [];
  private delayTimer: NodeJS.Timeout | undefined;
  private warned = new Set<string>();
  private pumpScheduled = false;

  constructor(
    private pool: WorkerPool,
    private hooks: SchedulerHooks = {},
    private warn: (key: string, msg: string) => void = () => {},
  ) {
    pool.onIdle = () => this.schedulePump();
  }

  /**
   * Dispatches at the end of this event-loop turn rather than at once: every request whose bytes
   * arrived in the same turn joins the batch. With the server on one core, dispatching the first
   * request alone would start the worker before the main thread had read the rest, keeping batches
   * small exactly when the server is saturated; the turn's remainder is all the latency it costs.
   */
  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(this.runScheduledPump);
  }

  private runScheduledPump = (): void => {
    this.pumpScheduled = false;
    this.pump();
  };

  addModel(key: string, policy: BatchPolicy): void {
    this.queues.set(key, { key, policy, jobs: [] });
  }

  depth(key: string): number {
    return this.queues.get(key)?.jobs.length ?? 0;
  }

  /** Requests accepted and not yet answered, queued or running. */
  get inFlight(): number {
    return this.outstanding;
  }

  submit(key: string, feeds: Record<string, TensorValue>, timeoutMs: number): Promise<JobResult> {
    const q = this.queues.get(key);
    if (q === undefined) return Promise.reject(new Error(`no queue for model ${key}`));
    if (q.jobs.length >= q.policy.maxQueue) {
      return Promise.reject(
        new QueueFullError(`model ${key} has ${q.jobs.length} requests queued (--max-queue)`),
      );
    }
    return new Promise<JobResult>((resolve, reject) => {
      this.outstanding++;
      const job: Job = {
        feeds,
        rows: q.policy.batchable ? rowCount(feeds) : 1,
        shape: q.policy.batchable ? shapeKey(feeds) : "",
        enqueuedAt: performance.now(),
        solo: false,
        settled: false,
        resolve: (r) => this.settle(job, () => resolve(r)),
        reject: (e) => this.settle(job, () => reject(e)),
      };
      if (timeoutMs > 0) {
        job.timer = setTimeout(() => {
          const i = q.jobs.indexOf(job);
          if (i >= 0) {
            q.jobs.splice(i, 1);
            this.hooks.onDepth?.(key, q.jobs.length);
          }
          job.reject(
            new TimeoutError(`model ${key} did not answer within ${timeoutMs} ms (--request-timeout-ms)`),
          );
        }, timeoutMs);
      }
      q.jobs.push(job);
      this.hooks.onDepth?.(key, q.jobs.length);
      this.schedulePump();
    });
  }

  private settle(job: Job, fn: () => void): void {
    if (job.settled) return;
    job.settled = true;
    if (job.timer) clearTimeout(job.timer);
    this.outstanding--;
    fn();
    if (this.outstanding === 0) for (const w of this.drainWaiters.splice(0)) w();
  }

  /** Resolves once every accepted request has been answered. */
  drain(): Promise<void> {
    if (this.outstanding === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Hands batches to free workers: oldest waiting request first, across models. */
  pump(): void {
    while (this.pool.idleCount > 0) {
      const now = performance.now();
      let pick: ModelQueue | undefined;
      let nextWake = Infinity;
      for (const q of this.queues.values()) {
        const head = q.jobs[0];
        if (head === undefined) continue;
        const waited = now - head.enqueuedAt;
        const full = q.jobs.length >= q.policy.maxBatchSize || !q.policy.batchable || head.solo;
        if (full || waited >= q.policy.maxQueueDelayMs) {
          if (pick === undefined || head.enqueuedAt < pick.jobs[0]!.enqueuedAt) pick = q;
        } else {
          nextWake = Math.min(nextWake, q.policy.maxQueueDelayMs - waited);
        }
      }
      if (pick === undefined) {
        if (nextWake < Infinity && this.delayTimer === undefined) {
          this.delayTimer = setTimeout(
            () => {
              this.delayTimer = undefined;
              this.pump();
            },
            Math.max(1, Math.ceil(nextWake)),
          );
        }
        return;
      }
      this.dispatch(pick, this.take(pick));
    }
  }

  private take(q: ModelQueue): Job[] {
    const head = q.jobs.shift()!;
    const batch = [head];
    if (q.policy.batchable && !head.solo && q.policy.maxBatchSize > 1) {
      let rows = head.rows;
      for (let i = 0; i < q.jobs.length && rows < q.policy.maxBatchSize;) {
        const j = q.jobs[i]!;
        if (!j.solo && j.shape === head.shape && rows + j.rows <= q.policy.maxBatchSize) {
          batch.push(j);
          rows += j.rows;
          q.jobs.splice(i, 1);
        } else i++;
      }
    }
    this.hooks.onDepth?.(q.key, q.jobs.length);
    return batch;
  }

  private dispatch(q: ModelQueue, batch: Job[]): void {
    const live = batch.filter((j) => !j.settled);
    if (live.length === 0) return;
    const started = performance.now();
    const rows = live.map((j) => j.rows);
    const feeds = concatFeeds(live.map((j) => j.feeds));
    const batchRows = rows.reduce((a, b) => a + b, 0);
    this.hooks.onBatch?.(q.key, batchRows);
    this.pool.run(q.key, feeds).then(
      (r: RunResult) => {
        const parts = splitOutputs(r.outputs, rows);
        if (parts === null) {
          if (!this.warned.has(q.key)) {
            this.warned.add(q.key);
            this.warn(q.key, "Turned off batching: model outputs do not follow the batch dimension");
          }
          q.policy.batchable = false;
          this.retrySolo(q, live);
          return;
        }
        live.forEach((j, i) =>
          j.resolve({
            outputs: parts[i]!,
            queueMs: started - j.enqueuedAt,
            computeMs: r.computeMs,
            batchRows,
          }),
        );
      },
      (err: Error) => {
        if (live.length > 1) this.retrySolo(q, live);
        else live[0]!.reject(err instanceof WorkerExitError ? err : new InferenceError(err.message));
      },
    );
  }

  private retrySolo(q: ModelQueue, jobs: Job[]): void {
    for (const j of jobs) j.solo = true;
    q.jobs.unshift(...jobs.filter((j) => !j.settled));
    this.hooks.onDepth?.(q.key, q.jobs.length);
    this.pump();
  }
}
