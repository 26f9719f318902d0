// One load test: the candidate loaded, then (when a threshold compares with it) stable the same way, each
// side's pods' memory sampled while it runs, and the verdict.
import { setTimeout as sleep } from "node:timers/promises";
import { request } from "undici";
import type { LoadTestFigures } from "../api/v1alpha1/index.js";
import type { Logger } from "../platform/log.js";
import { runLoad } from "./generator.js";
import { comparesWithStable, judge, type Thresholds, type Verdict } from "./judge.js";
import { sampleMemory } from "./memory.js";
import { inputsOf, seeded, syntheticRequest } from "./payload.js";
import { figuresOf } from "./stats.js";

/** One side under test: its Service (base URL) and where its pods' metrics are, looked up when it starts. */
export interface Side {
  url: string;
  metricsUrls(): Promise<string[]>;
}

export type Payload = { synthetic: { batchSize: number } } | { recorded: string[] };

export interface LoadTestRun {
  model: string;
  rate: number;
  durationMs: number;
  timeoutMs: number;
  payload: Payload;
  thresholds: Thresholds;
  candidate: Side;
  stable?: Side;
  /** Memory sampling period. */
  sampleMs?: number;
  /** How long a side's Service may take to answer /v2/health/ready before the test starts. */
  readyTimeoutMs?: number;
}

export interface LoadTestResult extends Verdict {
  candidate: LoadTestFigures;
  stable?: LoadTestFigures;
}

/** Load marked so a canary's logger never answers it from stable (its errors must show) . */
const headers = { "x-modelship-fallback": "loadtest" };

async function bodiesFor(side: Side, run: LoadTestRun): Promise<(i: number) => string> {
  const payload = run.payload;
  if ("recorded" in payload) {
    const rec = payload.recorded;
    return (i) => rec[i % rec.length]!;
  }
  const metaUrl = `${side.url}/v2/models/${encodeURIComponent(run.model)}`;
  const res = await request(metaUrl, { headersTimeout: run.timeoutMs, bodyTimeout: run.timeoutMs });
  const text = await res.body.text();
  if (res.statusCode !== 200)
    throw new Error(
      `GET ${metaUrl} answered ${res.statusCode}: ${text.slice(0, 200)}; synthetic payloads need the model's v2 metadata`,
    );
  const inputs = inputsOf(JSON.parse(text));
  // a fixed set, the same for both sides, so they are loaded alike
  const rand = seeded(42);
  const pool = Array.from({ length: 64 }, () =>
    JSON.stringify(syntheticRequest(inputs, payload.synthetic.batchSize, rand)),
  );
  return (i) => pool[i % pool.length]!;
}

/**
 * Waits until the side's Service answers /v2/health/ready: Ready pods reach the Service's routing a moment
 * after the rollout saw them available, and the load must not count that moment as the model's errors.
 */
export async function waitReady(url: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer";
  for (;;) {
    try {
      const res = await request(`${url}/v2/health/ready`, {
        headersTimeout: 2000,
        bodyTimeout: 2000,
        signal,
      });
      await res.body.dump();
      if (res.statusCode === 200) return;
      last = `status ${res.statusCode}`;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() >= deadline)
      throw new Error(
        `${url}/v2/health/ready did not answer 200 within ${Math.round(timeoutMs / 1000)}s (${last})`,
      );
    await sleep(1000);
  }
}

async function measure(side: Side, name: string, run: LoadTestRun, log: Logger): Promise<LoadTestFigures> {
  await waitReady(side.url, run.readyTimeoutMs ?? 120_000);
  const body = await bodiesFor(side, run);
  const urls = await side.metricsUrls();
  const stop = new AbortController();
  const memory = sampleMemory(urls, run.sampleMs ?? 1000, stop.signal);
  log.info(
    { side: name, url: side.url, rate: run.rate, durationMs: run.durationMs, pods: urls.length },
    "Started load",
  );
  const outcome = await runLoad({
    url: `${side.url}/v2/models/${encodeURIComponent(run.model)}/infer`,
    rate: run.rate,
    durationMs: run.durationMs,
    timeoutMs: run.timeoutMs,
    body,
    headers,
  }).finally(() => stop.abort());
  const figures = figuresOf(outcome, await memory);
  log.info({ side: name, ...figures, errorKinds: outcome.errorKinds }, "Finished load");
  return figures;
}

export async function runLoadTest(run: LoadTestRun, log: Logger): Promise<LoadTestResult> {
  const candidate = await measure(run.candidate, "candidate", run, log);
  const stable =
    run.stable && comparesWithStable(run.thresholds)
      ? await measure(run.stable, "stable", run, log)
      : undefined;
  return { ...judge(run.thresholds, candidate, stable), candidate, ...(stable ? { stable } : {}) };
}
