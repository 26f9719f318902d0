// The floor of the Parquet drift bench: DuckDB alone reading the window's rows and summing the numeric
// feature columns, with as many threads as the drift run has workers. Whatever drift takes beyond this
// is its own work (KS grid, bins, categories, counts). Prints a JSON line: events, seconds, peak RSS.
// Usage: node --import tsx bench/drift/duckdb-floor.ts --threads N --until RFC3339 ARCHIVE_DIR
import { parseArgs } from "node:util";
import { openDuckDB } from "../../src/events/parquet-archive.js";
import { NUMERIC } from "./generate.js";

const { values, positionals } = parseArgs({
  options: { threads: { type: "string" }, until: { type: "string" } },
  allowPositionals: true,
});
const until = new Date(values.until!);
const since = new Date(until.getTime() - 3_600_000);
const started = performance.now();
const conn = await (await openDuckDB({ threads: Number(values.threads ?? 2) })).connect();
const sums = Array.from({ length: NUMERIC }, (_, i) => `sum(feature_num_${i})`).join(", ");
const rows = (
  await conn.runAndReadAll(
    `SELECT count(*) FILTER (WHERE row_index = 0)::BIGINT AS events, ${sums}
     FROM read_parquet('${positionals[0]}/model=bench/*/*/*.parquet')
     WHERE type = 'io.modelship.inference.v1' AND time >= '${since.toISOString()}'::TIMESTAMPTZ
       AND time < '${until.toISOString()}'::TIMESTAMPTZ`,
  )
).getRowObjectsJS();
const seconds = (performance.now() - started) / 1000;
process.stdout.write(
  JSON.stringify({
    events: Number(rows[0]!.events),
    seconds,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
  }) + "\n",
);
