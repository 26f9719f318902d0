// Turns chunks of NDJSON lines into window state: the fast scanner first, JSON.parse + the zod schema
// for lines it hands back, for feedback events, and for a sample of lines whose schema is checked in
// full (so a producer that drifts from InferenceEvent v1 is reported, not silently half-read).
import { FEEDBACK_EVENT_TYPE, ModelshipEvent } from "../events/schema.js";
import { EventScanner, Fallback, parseTime } from "./scanner.js";
import type { WindowState } from "./window.js";

export interface ProcessOptions {
  /** Window bounds, ms since epoch: since <= time < until. */
  since: number;
  until: number;
  /** Lines checked against the full schema: the first N, then every Nth. */
  validateFirst: number;
  validateEvery: number;
}

const NL = 10;

function snippet(line: string): string {
  return line.length > 120 ? `${line.slice(0, 120)}...` : line;
}

export class ChunkProcessor {
  private readonly scanner: EventScanner;

  constructor(
    private readonly state: WindowState,
    private readonly opts: ProcessOptions,
  ) {
    this.scanner = new EventScanner(state);
  }

  /** Processes every complete line of buf (a trailing partial line is processed too). */
  processChunk(buf: Buffer, origin = "events"): void {
    let start = 0;
    while (start < buf.length) {
      let end = buf.indexOf(NL, start);
      if (end < 0) end = buf.length;
      let e = end;
      if (e > start && buf[e - 1] === 13) e--;
      while (e > start && (buf[start] === 32 || buf[start] === 9)) start++;
      if (e > start) this.line(buf, start, e, origin);
      start = end + 1;
    }
  }

  private line(buf: Buffer, start: number, end: number, origin: string): void {
    const c = this.state.counters;
    c.lines++;
    const n = c.lines;
    if (n <= this.opts.validateFirst || n % this.opts.validateEvery === 0) {
      this.slow(buf.toString("utf8", start, end), origin);
      return;
    }
    try {
      const r = this.scanner.scan(buf, start, end, this.opts.since, this.opts.until);
      if (r.kind === "inference") return;
      // Feedback and other event types are rare: the full parse sorts them out.
      this.slow(buf.toString("utf8", start, end), origin);
    } catch (err) {
      if (!(err instanceof Fallback)) throw err;
      this.slow(buf.toString("utf8", start, end), origin);
    }
  }

  /** The reference path: full JSON parse and schema validation. */
  slow(text: string, origin: string): void {
    const st = this.state;
    st.counters.schemaChecked++;
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      st.addInvalid(`${origin}: not JSON (${(err as Error).message}): ${snippet(text)}`);
      return;
    }
    const r = ModelshipEvent.safeParse(raw);
    if (!r.success) {
      const type = (raw as { type?: unknown } | null)?.type;
      if (typeof type === "string" && !type.startsWith("io.modelship.")) {
        st.counters.otherTypes++;
        return;
      }
      const i = r.error.issues[0];
      st.addInvalid(
        `${origin}: does not match InferenceEvent v1 at ${i?.path.join(".") || "(root)"}: ${i?.message ?? "invalid"}: ${snippet(text)}`,
      );
      return;
    }
    const ev = r.data;
    const t = parseTime(ev.time);
    if (ev.type === FEEDBACK_EVENT_TYPE) {
      if (t >= this.opts.since && t < this.opts.until) {
        st.counters.feedback++;
        st.feedback.set(ev.data.eventId, ev.data.groundTruth);
      } else st.counters.outsideWindow++;
      return;
    }
    if (!(t >= this.opts.since && t < this.opts.until)) {
      st.counters.outsideWindow++;
      return;
    }
    const d = ev.data;
    st.counters.events++;
    if (d.status >= 400 || d.error !== undefined) st.counters.failed++;
    if (d.features === undefined) st.counters.withoutFeatures++;
    for (const row of d.features ?? []) st.addRow(row);
    for (const p of d.predictions ?? []) st.addPrediction(p);
  }
}

/** The feedback join pass: for events whose id has ground truth, pairs it with the event's predictions. */
export class JoinProcessor {
  private readonly scanner: EventScanner;

  constructor(
    private readonly state: WindowState,
    private readonly truth: Map<string, unknown>,
  ) {
    this.scanner = new EventScanner(state);
  }

  processChunk(buf: Buffer): void {
    let start = 0;
    while (start < buf.length) {
      let end = buf.indexOf(NL, start);
      if (end < 0) end = buf.length;
      if (end > start) this.line(buf, start, end);
      start = end + 1;
    }
  }

  private line(buf: Buffer, start: number, end: number): void {
    let id: string | undefined;
    try {
      id = this.scanner.scanId(buf, start, end);
    } catch {
      id = undefined;
    }
    if (id !== undefined && !this.truth.has(id)) return;
    let raw: { id?: unknown; type?: unknown; data?: { predictions?: unknown } };
    try {
      raw = JSON.parse(buf.toString("utf8", start, end)) as typeof raw;
    } catch {
      return;
    }
    if (typeof raw.id !== "string" || raw.type === FEEDBACK_EVENT_TYPE || !this.truth.has(raw.id)) return;
    const preds = raw.data?.predictions;
    if (!Array.isArray(preds) || preds.length === 0) return;
    const gt = this.truth.get(raw.id);
    // Ground truth for a batch is an array with one value per row; a scalar belongs to row 0.
    if (Array.isArray(gt) && gt.length === preds.length)
      preds.forEach((p, i) => this.state.quality.add(gt[i], p));
    else this.state.quality.add(gt, preds[0]);
    this.truth.delete(raw.id);
    this.state.counters.feedback++;
  }
}
