// Generates the drift bench data: a training CSV (the baseline's source) and N InferenceEvent v1 lines
// with 32 numeric + 4 categorical features in the collector's layout, half of the features shifted.
// Usage: node --import tsx bench/drift/generate.ts --events N --out DIR [--model NAME] [--rows N]
import { createWriteStream, mkdirSync } from "node:fs";
import { once } from "node:events";
import { join } from "node:path";
import { parseArgs } from "node:util";

export const NUMERIC = 32;
export const CATEGORICAL = 4;
const CATS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"];

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A feature row; `shift` moves the odd numeric features and skews the categories. Values carry 6 decimals. */
export function makeRow(r: () => number, shift: boolean): Record<string, number | string> {
  const row: Record<string, number | string> = {};
  for (let i = 0; i < NUMERIC; i++) {
    const z = Math.sqrt(-2 * Math.log(r() + 1e-300)) * Math.cos(2 * Math.PI * r());
    const mu = shift && i % 2 === 1 ? 0.5 : 0;
    row[`num_${i}`] = Math.round((10 * i + (z + mu) * (i + 1)) * 1e6) / 1e6;
  }
  for (let i = 0; i < CATEGORICAL; i++) {
    const u = r();
    const k =
      shift && i === 0
        ? Math.min(CATS.length - 1, Math.floor(u * u * CATS.length + 2))
        : Math.floor(u * u * CATS.length);
    row[`cat_${i}`] = CATS[k]!;
  }
  return row;
}

export function makeEvent(
  id: number,
  time: Date,
  row: Record<string, number | string>,
  model: string,
): string {
  const numeric = Object.values(row).filter((v): v is number => typeof v === "number");
  return JSON.stringify({
    specversion: "1.0",
    id: `ev-${id.toString(16).padStart(12, "0")}`,
    source: `modelship/default/${model}/r1`,
    subject: model,
    type: "io.modelship.inference.v1",
    time: time.toISOString(),
    datacontenttype: "application/json",
    data: {
      model: { name: model, version: "1" },
      revision: "r1",
      variant: "stable",
      path: `/v2/models/${model}/infer`,
      request: { inputs: [{ name: "input", shape: [1, numeric.length], datatype: "FP64", data: numeric }] },
      features: [row],
      response: { outputs: [{ name: "score", shape: [1, 1], datatype: "FP32", data: [0.25] }] },
      predictions: [0.25],
      status: 200,
      latencyMs: 1.5,
      headers: {},
      sampleRate: 1,
      fallback: false,
    },
  });
}

async function write(stream: NodeJS.WritableStream, s: string): Promise<void> {
  if (!stream.write(s)) await once(stream, "drain");
}

export async function generate(opts: {
  out: string;
  events: number;
  rows: number;
  model: string;
  until: Date;
}): Promise<{ csv: string; dir: string }> {
  mkdirSync(opts.out, { recursive: true });
  const csv = join(opts.out, "train.csv");
  const r = rng(7);
  const names = [
    ...Array.from({ length: NUMERIC }, (_, i) => `num_${i}`),
    ...Array.from({ length: CATEGORICAL }, (_, i) => `cat_${i}`),
  ];
  const train = createWriteStream(csv);
  await write(train, names.join(",") + "\n");
  for (let i = 0; i < opts.rows; i++) await write(train, Object.values(makeRow(r, false)).join(",") + "\n");
  train.end();
  await once(train, "finish");
  // Events spread evenly over the hour before `until`, one file per hour partition.
  const dir = join(opts.out, "events");
  const start = opts.until.getTime() - 3_600_000;
  let current = "";
  let file: NodeJS.WritableStream | undefined;
  for (let i = 0; i < opts.events; i++) {
    const t = new Date(start + Math.floor(((i + 0.5) * 3_600_000) / opts.events));
    const iso = t.toISOString();
    const part = join(dir, opts.model, iso.slice(0, 10), iso.slice(11, 13));
    if (part !== current) {
      if (file) {
        file.end();
        await once(file, "finish");
      }
      mkdirSync(part, { recursive: true });
      file = createWriteStream(join(part, "events-0.ndjson"));
      current = part;
    }
    await write(file!, makeEvent(i, t, makeRow(r, i % 2 === 0), opts.model) + "\n");
  }
  if (file) {
    file.end();
    await once(file, "finish");
  }
  return { csv, dir };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      events: { type: "string" },
      out: { type: "string" },
      model: { type: "string" },
      rows: { type: "string" },
      until: { type: "string" },
    },
  });
  const out = values.out ?? ".cache/bench-drift";
  const until = values.until ? new Date(values.until) : new Date("2026-01-01T01:00:00Z");
  const res = await generate({
    out,
    events: Number(values.events ?? 100000),
    rows: Number(values.rows ?? 100000),
    model: values.model ?? "bench",
    until,
  });
  process.stdout.write(JSON.stringify(res) + "\n");
}
