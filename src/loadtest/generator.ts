// An open-loop load generator: requests leave on a fixed schedule (i / rate) whatever the answers take, and
// each latency counts from the scheduled time, so a slow server cannot slow the test down and hide its
// queueing (no coordinated omission).
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { Pool } from "undici";
import type { LoadOutcome } from "./stats.js";

export interface LoadOptions {
  /** The inference URL, e.g. http://fraud-canary.payments.svc.cluster.local/v2/models/fraud/infer. */
  url: string;
  /** Requests a second. */
  rate: number;
  durationMs: number;
  timeoutMs: number;
  /** The i-th request's JSON body. */
  body(i: number): string;
  headers?: Record<string, string>;
  /** Requests in flight beyond this are not sent and count as errors (the server is not keeping up). */
  maxInFlight?: number;
  /** Connections to the target (a Service spreads connections, not requests, over its pods). */
  connections?: number;
  signal?: AbortSignal;
}

/** Sends rate x duration requests on schedule; resolves once every one is answered or has timed out. */
export async function runLoad(o: LoadOptions): Promise<LoadOutcome & { errorKinds: Record<string, number> }> {
  const url = new URL(o.url);
  const pool = new Pool(url.origin, { connections: o.connections ?? 32, keepAliveTimeout: 10_000 });
  const total = Math.max(1, Math.round((o.rate * o.durationMs) / 1000));
  const intervalMs = 1000 / o.rate;
  const maxInFlight = o.maxInFlight ?? 4096;
  const latenciesMs: number[] = [];
  const errorKinds: Record<string, number> = {};
  const fail = (kind: string) => (errorKinds[kind] = (errorKinds[kind] ?? 0) + 1);
  const inFlight = new Set<Promise<void>>();
  const path = url.pathname + url.search;
  const headers = { "content-type": "application/json", ...(o.headers ?? {}) };

  const send = async (i: number, dueAt: number) => {
    try {
      const res = await pool.request({
        method: "POST",
        path,
        headers,
        body: o.body(i),
        signal: AbortSignal.timeout(o.timeoutMs),
      });
      await res.body.dump({ limit: Number.MAX_SAFE_INTEGER });
      if (res.statusCode >= 200 && res.statusCode < 300) latenciesMs.push(performance.now() - dueAt);
      else fail(String(res.statusCode));
    } catch (err) {
      const name = (err as Error).name;
      fail(name === "TimeoutError" || name === "AbortError" ? "timeout" : "connection");
    }
  };

  const start = performance.now();
  let sent = 0;
  try {
    for (let i = 0; i < total; i++) {
      if (o.signal?.aborted) break;
      const dueAt = start + i * intervalMs;
      const wait = dueAt - performance.now();
      if (wait > 1) await sleep(wait);
      sent++;
      if (inFlight.size >= maxInFlight) {
        fail("overloaded");
        continue;
      }
      const p: Promise<void> = send(i, dueAt).finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    await Promise.all(inFlight);
  } finally {
    await pool.close();
  }
  const errors = Object.values(errorKinds).reduce((a, b) => a + b, 0);
  return { latenciesMs, requests: sent, errors, errorKinds };
}
