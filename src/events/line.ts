import { randomBytes } from "node:crypto";
import type { FeatureSchema, InferenceEvent } from "./schema.js";
import { predictionRows } from "./oip.js";
import { countNumbers } from "./raw-json.js";

/**
 * The NDJSON line of an InferenceEvent: the same JSON as JSON.stringify(event), written faster where
 * JSON.stringify is slow on events:
 * - feature rows are objects with one key per feature, which V8 keeps as dictionaries and stringifies
 *   on its slow path: they are written key by key in schema order instead;
 * - predictions repeat the first output's values, and formatting a double (a float32 output has 17
 *   digits) is most of an event's cost: the output is formatted once and predictions reuse its tokens.
 * - request data the client sent as JSON comes with its own text (raw-json.ts): that text goes in as it
 *   was written, an equal JSON value, instead of every double formatted again.
 * All go in as placeholders that JSON.stringify leaves alone and are spliced in afterwards.
 */

/** Per process, so a client cannot send a string that reads as a placeholder. */
const MARK = `@ms${randomBytes(8).toString("hex")}:`;
const QUOTED_MARK = `"${MARK}`;

function isFlatNumbers(a: unknown[]): a is number[] {
  for (let i = 0; i < a.length; i++) if (typeof a[i] !== "number") return false;
  return true;
}

function allFinite(a: unknown[]): boolean {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return false;
  return true;
}

function numberJson(v: number): string {
  return Number.isFinite(v) ? String(v) : "null";
}

/** Feature rows in schema order; the keys' JSON is made once per schema. */
export function featureRowsJson(
  rows: Record<string, unknown>[],
  schema: FeatureSchema,
  keys: string[],
): string {
  let out = "[";
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r] as Record<string, unknown>;
    let o = r === 0 ? "{" : ",{";
    let first = true;
    for (let c = 0; c < schema.length; c++) {
      const v = row[(schema[c] as { name: string }).name];
      if (v === undefined) continue;
      o +=
        (first ? "" : ",") +
        (keys[c] as string) +
        (typeof v === "number" ? numberJson(v) : JSON.stringify(v));
      first = false;
    }
    out += o + "}";
  }
  return out + "]";
}

function tokensJson(v: string | string[] | (string | string[])[]): string {
  if (typeof v === "string") return v;
  let out = "[";
  for (let i = 0; i < v.length; i++) out += (i === 0 ? "" : ",") + tokensJson(v[i] as string | string[]);
  return out + "]";
}

/** Writes events for one feature schema (the keys' JSON is computed once). */
export class EventLineWriter {
  private readonly keys: string[];
  constructor(private readonly schema: FeatureSchema) {
    this.keys = schema.map((f) => `${JSON.stringify(f.name)}:`);
  }

  /**
   * Serializes the event; takes it over (features, predictions, one output's data and the request data
   * given as text become placeholders). `inputTexts[i]`, when given, is the client's text of request input
   * i's data (inputDataTexts); it is used only where it holds as many numbers as the event's data, all finite.
   */
  line(event: InferenceEvent, protocol: "v1" | "v2", inputTexts?: readonly (string | undefined)[]): string {
    const pieces: string[] = [];
    const mark = (s: string): string => MARK + String(pieces.push(s) - 1);
    const d = event.data as { -readonly [K in keyof typeof event.data]: unknown } & typeof event.data;
    if (inputTexts !== undefined && protocol === "v2") {
      const inputs = d.request.inputs;
      for (let i = 0; i < inputs.length && i < inputTexts.length; i++) {
        const t = inputs[i]!;
        const text = inputTexts[i];
        if (
          text !== undefined &&
          t.data !== undefined &&
          allFinite(t.data) &&
          countNumbers(text) === t.data.length
        )
          (t as { data: unknown }).data = mark(text);
      }
    }
    const features = d.features;
    // rows come from mapFeatures: their keys are schema names (redaction may have removed some)
    if (features !== undefined) {
      (d as { features: unknown }).features = mark(featureRowsJson(features, this.schema, this.keys));
    }
    const first = d.response?.outputs[0];
    // v2 predictions come from the first output's flat values (oip.ts predictionsOf); v1 are rows as sent
    if (
      protocol === "v2" &&
      d.predictions !== undefined &&
      first?.data !== undefined &&
      isFlatNumbers(first.data)
    ) {
      const text = JSON.stringify(first.data);
      const tokens = text.length > 2 ? text.slice(1, -1).split(",") : [];
      const rows = predictionRows(first.shape, tokens);
      if (rows !== undefined && tokens.length === first.data.length) {
        (first as { data: unknown }).data = mark(text);
        (d as { predictions: unknown }).predictions = mark(tokensJson(rows));
      }
    }
    const line = JSON.stringify(event);
    if (pieces.length === 0) return line;
    // each placeholder is replaced once; a string that only looks like one (no valid index) stays
    let out = "";
    let from = 0;
    let left = pieces.length;
    for (let i = line.indexOf(QUOTED_MARK); i >= 0 && left > 0; i = line.indexOf(QUOTED_MARK, i + 1)) {
      const close = line.indexOf('"', i + 1);
      const idx = line.slice(i + QUOTED_MARK.length, close);
      const piece = /^\d{1,3}$/.test(idx) ? pieces[Number(idx)] : undefined;
      if (piece === undefined) continue;
      pieces[Number(idx)] = undefined as unknown as string;
      out += line.slice(from, i) + piece;
      from = close + 1;
      left--;
    }
    return out + line.slice(from);
  }
}
