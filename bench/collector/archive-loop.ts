// What archiving a closed segment costs the collector's event loop: the same segment converted to Parquet
// inline on the main thread (how the archive ran before, the baseline) and through the archive's conversion
// thread (CollectorArchive), side by side in one process. The event loop's delay is sampled every 10 ms
// while each conversion runs (perf_hooks.monitorEventLoopDelay): a delay there is time the collector's
// HTTP intake and Kafka consumer could not run. Results in bench/results/archive-loop-<date>.json.
// Usage: node --import tsx bench/collector/archive-loop.ts [--events N] [--rounds N]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { CollectorArchive } from "../../src/collector/archive.js";
import { segmentLines } from "../../src/collector/read.js";
import { DirTarget } from "../../src/events/archive-target.js";
import { openDuckDB, writeSegmentParquet } from "../../src/events/parquet-archive.js";
import { createLogger } from "../../src/platform/log.js";
import { createRegistry } from "../../src/platform/metrics.js";
import { makeEvent, makeRow } from "../drift/generate.js";

const { values } = parseArgs({ options: { events: { type: "string" }, rounds: { type: "string" } } });
const events = Number(values.events ?? 100_000);
const rounds = Number(values.rounds ?? 3);
const log = (msg: string) => process.stderr.write(`[bench:archive-loop] ${msg}\n`);

const work = mkdtempSync(join(tmpdir(), "modelship-archive-loop-"));
const hour = new Date("2026-01-01T00:00:00Z");
let seed = 7;
const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;

/** One closed segment of `events` events in the collector's layout, under its own data dir. */
function segment(round: number, mode: string): { dataDir: string; file: string } {
  const dataDir = join(work, `${mode}-${round}`);
  const dir = join(dataDir, "churn", "2026-01-01", "00");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "seg-000001.ndjson");
  const lines: string[] = [];
  for (let i = 0; i < events; i++)
    lines.push(makeEvent(round * events + i, hour, makeRow(rand, false), "churn"));
  writeFileSync(file, lines.join("\n") + "\n");
  return { dataDir, file };
}

interface Sample {
  ms: number;
  delayP99Ms: number;
  delayMaxMs: number;
}

async function measure(run: () => Promise<void>): Promise<Sample> {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  const t0 = performance.now();
  await run();
  const ms = performance.now() - t0;
  h.disable();
  return { ms, delayP99Ms: h.percentile(99) / 1e6, delayMaxMs: h.max / 1e6 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const logger = createLogger({ name: "bench", level: "warn" });
const inline: Sample[] = [];
const thread: Sample[] = [];
const db = await openDuckDB({ threads: 1, memoryLimit: "256MB" });
const conn = await db.connect();
for (let r = 0; r < rounds; r++) {
  const a = segment(r, "inline");
  inline.push(
    await measure(async () => {
      await writeSegmentParquet(conn, segmentLines(a.file), join(work, `inline-${r}.parquet`));
    }),
  );
  const b = segment(r, "thread");
  const archive = await CollectorArchive.open({
    dataDir: b.dataDir,
    target: new DirTarget(join(work, `archive-${r}`)),
    mode: "copy",
    retention: {},
    intervalMs: 3_600_000,
    registry: createRegistry("collector", { defaultMetrics: false }),
    log: logger,
  });
  thread.push(
    await measure(async () => {
      archive.segmentClosed(b.file);
      await archive.idle();
    }),
  );
  await archive.stop();
  log(
    `round ${r + 1}/${rounds}: inline ${JSON.stringify(inline.at(-1))}, thread ${JSON.stringify(thread.at(-1))}`,
  );
}
conn.closeSync();
db.closeSync();
rmSync(work, { recursive: true, force: true });

const summary = (s: Sample[]) => ({
  ms: median(s.map((x) => x.ms)),
  delayP99Ms: median(s.map((x) => x.delayP99Ms)),
  delayMaxMs: median(s.map((x) => x.delayMaxMs)),
});
const result = {
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, load: loadavg().map((l) => l.toFixed(2)) },
  events,
  rounds,
  inline: summary(inline),
  thread: summary(thread),
  ratios: {
    delayMaxThreadToInline: summary(thread).delayMaxMs / summary(inline).delayMaxMs,
    durationThreadToInline: summary(thread).ms / summary(inline).ms,
  },
};
mkdirSync(join("bench", "results"), { recursive: true });
const out = join("bench", "results", `archive-loop-${result.date.slice(0, 10)}.json`);
writeFileSync(out, JSON.stringify(result, null, 2) + "\n");
console.log(JSON.stringify(result, null, 2));
log(`wrote ${out}`);
