// Scanner micro-benchmark: the drift bench's event files read into memory, then processed in this
// thread (no workers, no I/O) so per-event CPU cost shows alone. Usage:
// node --import tsx bench/drift/scan-micro.ts DIR [reps]
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { ChunkProcessor } from "../../src/drift/process.js";
import { parseBaseline } from "../../src/drift/profile.js";
import { WindowState } from "../../src/drift/window.js";

const dir = process.argv[2] ?? ".cache/bench-drift-100000";
const reps = Number(process.argv[3] ?? 3);
const files: string[] = [];
const walk = (d: string): void => {
  for (const n of readdirSync(d, { withFileTypes: true })) {
    if (n.isDirectory()) walk(join(d, n.name));
    else if (n.name.endsWith(".ndjson")) files.push(join(d, n.name));
  }
};
walk(join(dir, "events"));
const bufs = files.map((f) => readFileSync(f));
const bytes = bufs.reduce((s, b) => s + b.length, 0);
const baseline = parseBaseline(readFileSync(join(dir, "baseline.json"), "utf8"), "baseline");
for (let r = 0; r < reps; r++) {
  const state = new WindowState(baseline);
  const p = new ChunkProcessor(state, { since: 0, until: 8e15, validateFirst: 100, validateEvery: 10000 });
  const t0 = performance.now();
  const c0 = process.cpuUsage().user;
  for (const b of bufs) {
    for (let off = 0; off < b.length;) {
      let end = b.indexOf(10, Math.min(b.length - 1, off + (4 << 20)));
      if (end < 0) end = b.length - 1;
      p.processChunk(b.subarray(off, end + 1));
      off = end + 1;
    }
  }
  const ms = performance.now() - t0;
  const cpuUs = process.cpuUsage().user - c0;
  const ev = state.counters.events;
  console.log(
    `rep ${r}: ${ev} events, ${(ms / 1000).toFixed(2)} s, ${((ms * 1000) / ev).toFixed(2)} us/event (${(cpuUs / ev).toFixed(2)} us CPU), ${Math.round(ev / (ms / 1000))} events/s, ${(bytes / 1e6 / (ms / 1000)).toFixed(0)} MB/s`,
  );
}
