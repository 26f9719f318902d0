// Reads training data for `modelship baseline`: CSV (RFC 4180, header row) or JSON Lines, one record per
// row, streamed so a large file is never held in memory.
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { createGunzip } from "node:zlib";

export type TableFormat = "csv" | "jsonl";
export type Cell = string | number | boolean | null | undefined | object;
export type Row = Record<string, Cell>;

export function formatOf(file: string): TableFormat {
  const f = file.replace(/\.gz$/, "").toLowerCase();
  if (f.endsWith(".csv")) return "csv";
  if (f.endsWith(".jsonl") || f.endsWith(".ndjson") || f.endsWith(".json")) return "jsonl";
  throw new Error(`cannot tell the format of ${file}: use a .csv, .jsonl or .ndjson file (optionally .gz)`);
}

/** Splits one CSV record; returns undefined when a quoted field continues on the next line. */
export function splitCsvRecord(line: string): string[] | undefined {
  const out: string[] = [];
  let cur = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"') {
        if (line[i + 1] === '"') {
          cur += '"';
          i++;
        } else quoted = false;
      } else cur += ch;
    } else if (ch === '"' && cur === "") quoted = true;
    else if (ch === ",") {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  if (quoted) return undefined;
  out.push(cur);
  return out;
}

function lines(file: string): AsyncIterable<string> {
  const raw = createReadStream(file);
  const input = file.endsWith(".gz") ? raw.pipe(createGunzip()) : raw;
  return createInterface({ input, crlfDelay: Infinity });
}

/** Yields rows as objects: CSV cells stay strings (typing is the profiler's job), JSONL values as parsed. */
export async function* readTable(file: string, format: TableFormat = formatOf(file)): AsyncGenerator<Row> {
  let lineNo = 0;
  if (format === "jsonl") {
    for await (const line of lines(file)) {
      lineNo++;
      if (line.trim() === "") continue;
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch (err) {
        throw new Error(`${file}:${lineNo}: not valid JSON: ${(err as Error).message}`, { cause: err });
      }
      if (typeof v !== "object" || v === null || Array.isArray(v))
        throw new Error(`${file}:${lineNo}: each line must be a JSON object`);
      yield v as Row;
    }
    return;
  }
  let header: string[] | undefined;
  let pending = "";
  for await (const line of lines(file)) {
    lineNo++;
    const text = pending === "" ? line : `${pending}\n${line}`;
    const cells = splitCsvRecord(text);
    if (cells === undefined) {
      pending = text;
      continue;
    }
    pending = "";
    if (header === undefined) {
      header = cells.map((c) => c.trim());
      if (header.length === 0 || header.some((h) => h === ""))
        throw new Error(`${file}: the header row has an empty column name`);
      continue;
    }
    if (cells.length === 1 && cells[0] === "") continue;
    if (cells.length !== header.length)
      throw new Error(`${file}:${lineNo}: ${cells.length} columns, the header has ${header.length}`);
    const row: Row = {};
    for (let i = 0; i < header.length; i++) row[header[i]!] = cells[i];
    yield row;
  }
  if (pending !== "") throw new Error(`${file}: unterminated quoted field at end of file`);
}
