// Load generators: closed-loop latency/throughput and an open-loop fixed rate, over keep-alive undici pools.
import { randomUUID } from "node:crypto";
import { Pool } from "undici";

export interface Target {
  name: string;
  url: string;
}

export function makeBody(features: number, seed: number): string {
  const data = Array.from({ length: features }, (_, i) => Math.round(Math.sin(seed + i) * 1e4) / 1e4);
  return JSON.stringify({ inputs: [{ name: "input", datatype: "FP32", shape: [1, features], data }] });
}

/**
 * One request. The event id is the answer's x-modelship-event-id, or, with `idHeader` (the KServe
 * agent takes its CloudEvent id from the request's Ce-Id), a fresh UUID sent in that header.
 */
async function once(
  pool: Pool,
  path: string,
  body: string,
  id: string,
  idHeader?: string,
): Promise<{ status: number; eventId?: string }> {
  const headers: Record<string, string> = { "content-type": "application/json", "x-request-id": id };
  const sent = idHeader !== undefined ? randomUUID() : undefined;
  if (idHeader !== undefined) headers[idHeader] = sent!;
  const res = await pool.request({ method: "POST", path, body, headers });
  await res.body.dump();
  const ev = sent ?? res.headers["x-modelship-event-id"];
  return { status: res.statusCode, ...(typeof ev === "string" ? { eventId: ev } : {}) };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

/** Sequential requests (concurrency 1); returns per-request latencies in ms. */
export async function latencies(pool: Pool, path: string, body: string, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = await once(pool, path, body, `lat-${i}`);
    out.push(performance.now() - t0);
    if (r.status !== 200) throw new Error(`latency run: HTTP ${r.status}`);
  }
  return out;
}

/** `concurrency` closed loops for durationMs; returns completed requests per second. */
export async function throughput(
  pool: Pool,
  path: string,
  body: string,
  concurrency: number,
  durationMs: number,
): Promise<{ rps: number; errors: number }> {
  const end = performance.now() + durationMs;
  let done = 0;
  let errors = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      let i = 0;
      while (performance.now() < end) {
        const r = await once(pool, path, body, `tp-${w}-${i++}`).catch(() => ({ status: 0 }));
        if (r.status === 200) done++;
        else errors++;
      }
    }),
  );
  return { rps: done / ((performance.now() - t0) / 1000), errors };
}

/**
 * Open loop: starts `rate` requests per second regardless of answers (up to maxInFlight), for durationMs.
 * Returns the event ids of the answered requests and the counts.
 */
export async function fixedRate(
  pool: Pool,
  path: string,
  bodies: string[],
  rate: number,
  durationMs: number,
  maxInFlight = 512,
  idHeader?: string,
): Promise<{
  started: number;
  ok: number;
  failed: number;
  skipped: number;
  eventIds: string[];
  seconds: number;
}> {
  const eventIds: string[] = [];
  let started = 0;
  let ok = 0;
  let failed = 0;
  let skipped = 0;
  let inFlight = 0;
  const t0 = performance.now();
  const pending = new Set<Promise<void>>();
  while (performance.now() - t0 < durationMs) {
    const due = Math.floor(((performance.now() - t0) / 1000) * rate);
    while (started + skipped < due) {
      if (inFlight >= maxInFlight) {
        skipped++;
        continue;
      }
      const i = started++;
      inFlight++;
      const p = once(pool, path, bodies[i % bodies.length] as string, `rate-${i}`, idHeader)
        .then(
          (r) => {
            if (r.status === 200 && r.eventId !== undefined) {
              ok++;
              eventIds.push(r.eventId);
            } else failed++;
          },
          () => {
            failed++;
          },
        )
        .finally(() => {
          inFlight--;
          pending.delete(p);
        });
      pending.add(p);
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  await Promise.all(pending);
  return { started, ok, failed, skipped, eventIds, seconds: (performance.now() - t0) / 1000 };
}
