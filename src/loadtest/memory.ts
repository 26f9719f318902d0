// Memory of the pods under test, read from their own Prometheus metrics: the peak resident set of each
// pod's model-server process while the load runs.
import { setTimeout as sleep } from "node:timers/promises";
import { request } from "undici";

/** The process metric every modelship server exports (prom-client's default metrics, prefixed). */
export const residentMemoryMetric = "modelship_process_process_resident_memory_bytes";

/** The resident memory in a Prometheus text exposition, or undefined when the metric is absent. */
export function residentBytes(exposition: string): number | undefined {
  for (const line of exposition.split("\n")) {
    if (!line.startsWith(residentMemoryMetric)) continue;
    const rest = line.slice(residentMemoryMetric.length);
    if (rest[0] !== " " && rest[0] !== "{") continue;
    const value = Number(
      rest
        .replace(/^\{[^}]*\}/, "")
        .trim()
        .split(/\s+/)[0],
    );
    if (Number.isFinite(value)) return value;
  }
  return undefined;
}

/** Peak per pod (by metrics URL) over the samples taken, and the highest of them. */
export class MemoryPeaks {
  readonly peaks = new Map<string, number>();

  record(url: string, bytes: number): void {
    this.peaks.set(url, Math.max(this.peaks.get(url) ?? 0, bytes));
  }

  /** The busiest pod's peak, and how many pods answered; undefined when none did. */
  result(): { peakBytes: number; pods: number } | undefined {
    if (this.peaks.size === 0) return undefined;
    return { peakBytes: Math.max(...this.peaks.values()), pods: this.peaks.size };
  }
}

/** Samples every URL every intervalMs until the signal aborts (then once more); a pod that does not answer is skipped. */
export async function sampleMemory(
  urls: string[],
  intervalMs: number,
  signal: AbortSignal,
): Promise<{ peakBytes: number; pods: number } | undefined> {
  const peaks = new MemoryPeaks();
  const once = () =>
    Promise.all(
      urls.map(async (url) => {
        try {
          const res = await request(url, { headersTimeout: 2000, bodyTimeout: 2000 });
          const text = await res.body.text();
          const bytes = res.statusCode === 200 ? residentBytes(text) : undefined;
          if (bytes !== undefined) peaks.record(url, bytes);
        } catch {
          /* a pod that does not answer this round */
        }
      }),
    );
  while (!signal.aborted) {
    await once();
    await sleep(intervalMs, undefined, { signal }).catch(() => undefined);
  }
  await once();
  return peaks.result();
}
