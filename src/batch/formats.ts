// Input and output row formats for batch prediction: JSON Lines and CSV (RFC 4180 quoting, one line per record).

export type Format = "jsonl" | "csv";

/** The format a file name implies: .csv is CSV, anything else (.jsonl, .ndjson, .json) is JSON Lines. */
export function formatOf(name: string): Format {
  return /\.csv(\.|$)/i.test(name.split(/[?#]/)[0]!) ? "csv" : "jsonl";
}

/** Splits one CSV record; quoted fields may hold commas and doubled quotes (not newlines). */
export function parseCsvLine(line: string): string[] {
  const out: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"') {
        if (line[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += c;
    } else if (c === '"' && field === "") quoted = true;
    else if (c === ",") {
      out.push(field);
      field = "";
    } else field += c;
  }
  if (quoted) throw new Error("unterminated quoted field");
  out.push(field);
  return out;
}

export function csvField(v: unknown): string {
  const s = v === null || v === undefined ? "" : typeof v === "string" ? v : JSON.stringify(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
