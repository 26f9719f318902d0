import { test } from "node:test";
import assert from "node:assert/strict";
import type { TensorValue } from "./datatypes.js";
import type { RunResult, WorkerPool } from "./pool.js";
import { Scheduler } from "./scheduler.js";

/** One idle worker that echoes its inputs back as outputs and records every batch it ran. */
function fakePool() {
  const batches: number[] = [];
  const pool = {
    idle: 1,
    onIdle: () => {},
    get idleCount() {
      return this.idle;
    },
    run(_key: string, feeds: Record<string, TensorValue>): Promise<RunResult> {
      this.idle--;
      batches.push(feeds.x!.dims[0]!);
      return new Promise((resolve) =>
        setImmediate(() => {
          this.idle++;
          resolve({ outputs: { y: feeds.x! }, computeMs: 0 });
          this.onIdle();
        }),
      );
    },
  };
  return { pool, batches };
}

const row = (v: number): Record<string, TensorValue> => ({
  x: { type: "float32", dims: [1, 2], data: new Float32Array([v, v]) },
});

test("requests arriving in the same event-loop turn share one batch although a worker is idle", async () => {
  const { pool, batches } = fakePool();
  const s = new Scheduler(pool as unknown as WorkerPool);
  s.addModel("m", { batchable: true, maxBatchSize: 32, maxQueueDelayMs: 0, maxQueue: 100 });
  const results = await Promise.all([1, 2, 3, 4].map((v) => s.submit("m", row(v), 0)));
  assert.deepEqual(batches, [4]);
  assert.deepEqual(
    results.map((r) => [...(r.outputs.y!.data as Float32Array)]),
    [
      [1, 1],
      [2, 2],
      [3, 3],
      [4, 4],
    ],
  );
  // A lone request still runs in the same turn's check phase, without waiting for batch-mates.
  const t0 = performance.now();
  await s.submit("m", row(5), 0);
  assert.deepEqual(batches, [4, 1]);
  assert.ok(performance.now() - t0 < 50);
});
