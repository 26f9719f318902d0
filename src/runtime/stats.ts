// GET /v2/models/{name}/stats: per model version counters in Triton's statistics extension form.

interface Duration {
  count: number;
  ns: number;
}

const ms = (d: Duration, millis: number) => {
  d.count++;
  d.ns += Math.round(millis * 1e6);
};

/** Counters for one model version; the server records into it, the stats route reads it. */
export class ModelStats {
  /** Milliseconds since the epoch of the last successful request; 0 before the first. */
  lastInference = 0;
  /** Rows of successful requests (Triton counts each row of a batched request). */
  inferenceCount = 0;
  /** Batches run by the model. */
  executionCount = 0;
  success: Duration = { count: 0, ns: 0 };
  fail: Duration = { count: 0, ns: 0 };
  queue: Duration = { count: 0, ns: 0 };
  computeInfer: Duration = { count: 0, ns: 0 };

  recordSuccess(nowMs: number, rows: number, totalMs: number, queueMs: number, computeMs: number): void {
    this.lastInference = nowMs;
    this.inferenceCount += rows;
    ms(this.success, totalMs);
    ms(this.queue, queueMs);
    ms(this.computeInfer, computeMs);
  }

  recordFailure(totalMs: number): void {
    ms(this.fail, totalMs);
  }

  recordExecution(): void {
    this.executionCount++;
  }
}

/** One entry of "model_stats". Durations are summed over requests, in nanoseconds. */
export function modelStatsEntry(name: string, version: string, s: ModelStats) {
  return {
    name,
    version,
    last_inference: s.lastInference,
    inference_count: s.inferenceCount,
    execution_count: s.executionCount,
    inference_stats: {
      success: { ...s.success },
      fail: { ...s.fail },
      queue: { ...s.queue },
      compute_infer: { ...s.computeInfer },
    },
  };
}
