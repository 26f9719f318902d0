// A ceiling for the drift bench: V8's own JSON.parse of every line, nothing else, on N worker threads
// reading the same files in the same byte ranges as `modelship drift`. Any JavaScript event reader
// that builds objects is bounded by this; the drift scanner reads without building them.
// Usage: node --import tsx bench/drift/parse-ceiling.ts --workers N FILE... (prints one JSON line)
import { statSync } from "node:fs";
import { parseArgs } from "node:util";
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { RangeReader, splitRanges, type FileRange } from "../../src/drift/file-ranges.js";
import { startWorker } from "../../src/platform/worker-thread.js";

function parseRanges(ranges: FileRange[]): number {
  const reader = new RangeReader();
  let events = 0;
  for (const r of ranges)
    reader.read(r, (chunk) => {
      let start = 0;
      while (start < chunk.length) {
        let end = chunk.indexOf(10, start);
        if (end < 0) end = chunk.length;
        if (end > start) {
          const ev = JSON.parse(chunk.toString("utf8", start, end)) as { data?: unknown };
          if (ev.data !== undefined) events++;
        }
        start = end + 1;
      }
    });
  return events;
}

if (!isMainThread) {
  parentPort!.postMessage(parseRanges(workerData as FileRange[]));
} else {
  const { values, positionals } = parseArgs({
    options: { workers: { type: "string" } },
    allowPositionals: true,
  });
  const workers = Number(values.workers ?? 2);
  const ranges = positionals.flatMap((f) => splitRanges(f, statSync(f).size));
  const shares: FileRange[][] = Array.from({ length: workers }, () => []);
  ranges.forEach((r, i) => shares[i % workers]!.push(r));
  const started = performance.now();
  const counts = await Promise.all(
    shares.map(
      (share) =>
        new Promise<number>((resolve, reject) => {
          const w = startWorker(new URL(import.meta.url), { workerData: share });
          w.once("message", (n: number) => {
            resolve(n);
            void w.terminate();
          });
          w.once("error", reject);
        }),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  const events = counts.reduce((a, b) => a + b, 0);
  process.stdout.write(
    JSON.stringify({ events, seconds, peakRssMb: process.resourceUsage().maxRSS / 1024 }) + "\n",
  );
}
