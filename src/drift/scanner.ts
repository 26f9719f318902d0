// A fast, allocation-light reader for InferenceEvent v1 lines. It walks the JSON structure of a line
// byte by byte, decodes only what drift needs (type, id, time, data.features, data.predictions,
// data.status, data.error) and feeds feature values straight into the window accumulators; everything
// else is skipped without building objects. Any line it does not fully understand raises Fallback, and
// the caller re-reads that line with JSON.parse and the zod schema, so odd input is slower, never wrong.
import type { WindowState } from "./window.js";

export class Fallback extends Error {
  constructor(reason: string) {
    super(reason);
  }
}

const Q = 34; // "
const BS = 92; // \
const COMMA = 44;
const COLON = 58;
const LBRACE = 123;
const RBRACE = 125;
const LBRACK = 91;
const RBRACK = 93;
const POW10 = [
  1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
  1e20, 1e21, 1e22,
];

/** 2^53: integers up to here are exact doubles, so the accumulated mantissa is too. */
const MAX_EXACT = 9007199254740992;

const K_NUM = 0;
const K_STR = 1;
const K_TRUE = 2;
const K_FALSE = 3;
const K_MISSING = 4;
const K_OTHER = 5;

const KEY_TYPE = Buffer.from("type");
const KEY_TIME = Buffer.from("time");
const KEY_ID = Buffer.from("id");
const KEY_DATA = Buffer.from("data");
const KEY_FEATURES = Buffer.from("features");
const KEY_PREDICTIONS = Buffer.from("predictions");
const KEY_STATUS = Buffer.from("status");
const KEY_ERROR = Buffer.from("error");
export const INFERENCE_TYPE_BYTES = Buffer.from("io.modelship.inference.v1");

export interface ScanResult {
  kind: "inference" | "other";
  /** Event time, ms since epoch (NaN when absent). */
  time: number;
}

/** Parses "YYYY-MM-DDTHH:MM:SS[.fff]Z" quickly; other RFC 3339 forms go through Date.parse. */
export function parseTime(s: string): number {
  if (s.length >= 20 && s.charCodeAt(s.length - 1) === 90 && s[10] === "T") {
    const y = +s.slice(0, 4);
    const mo = +s.slice(5, 7);
    const d = +s.slice(8, 10);
    const h = +s.slice(11, 13);
    const mi = +s.slice(14, 16);
    const sec = +s.slice(17, 19);
    let ms = 0;
    if (s[19] === ".") {
      const frac = s.slice(20, s.length - 1);
      if (frac.length > 0 && /^\d+$/.test(frac)) ms = Math.floor(+frac.padEnd(3, "0").slice(0, 3));
      else return Date.parse(s);
    } else if (s.length !== 20) return Date.parse(s);
    if ([y, mo, d, h, mi, sec].every(Number.isInteger)) return Date.UTC(y, mo - 1, d, h, mi, sec, ms);
  }
  return Date.parse(s);
}

/** The decimal digit at b[i], or 1000 (out of every range checked) for anything else. */
function digit(b: Buffer, i: number): number {
  const v = b[i]! - 48;
  return v >= 0 && v <= 9 ? v : 1000;
}

function grown<T extends Int32Array | Uint8Array | Float64Array>(a: T, make: (len: number) => T): T {
  const b = make(a.length * 2);
  b.set(a);
  return b;
}

export class EventScanner {
  private buf!: Buffer;
  private pos = 0;
  private end = 0;
  private readonly names: Buffer[];
  private readonly seen: Uint32Array;
  private rowStamp = 0;
  // Values are journaled and committed only when the whole line has been read, so a line that falls
  // back to the slow path half-way leaves no trace in the accumulators.
  private jSlot = new Int32Array(1024);
  private jKind = new Uint8Array(1024);
  private jNum = new Float64Array(1024);
  private jStr: (string | undefined)[] = new Array<string | undefined>(1024).fill(undefined);
  private jn = 0;
  private jUnexpected: string[] = [];
  private jRows = 0;
  private jFeatures = false;
  private jFailed = false;

  constructor(private readonly state: WindowState) {
    this.names = state.features.map((f) => Buffer.from(f.name));
    this.keyPatterns = state.features.map((f) => Buffer.from(`${JSON.stringify(f.name)}:`));
    this.numeric = Uint8Array.from(state.features, (f) => (f.profile.type === "numeric" ? 1 : 0));
    this.order = Int32Array.from(state.features, (_, i) => i);
    this.stagedSlots = new Int32Array(state.features.length);
    this.seen = new Uint32Array(state.features.length);
    this.catBytes = state.features.map(() => []);
    this.catStrings = state.features.map(() => []);
  }

  /**
   * Reads one line. Window filtering needs the time before the data, so a line whose `data` comes
   * before `type` and `time` (not how the logger writes) is left to the slow path.
   */
  scan(buf: Buffer, start: number, end: number, since: number, until: number): ScanResult {
    try {
      return this.scanLine(buf, start, end, since, until);
    } catch (err) {
      // Numbers staged in the feature queues must not count: the slow path re-reads the whole line.
      for (const f of this.state.features) f.dropStaged();
      throw err;
    }
  }

  private scanLine(buf: Buffer, start: number, end: number, since: number, until: number): ScanResult {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    let isInference: boolean | undefined;
    let time = NaN;
    let inWindow = false;
    this.jn = 0;
    this.lineStaged = false;
    this.jRows = 0;
    this.jUnexpected.length = 0;
    this.jFeatures = false;
    this.jFailed = false;
    this.ws();
    this.expect(LBRACE);
    this.ws();
    if (this.peek() === RBRACE) throw new Fallback("empty object");
    for (;;) {
      this.key();
      const ks = this.sS;
      const ke = this.sE;
      if (this.keyIs(ks, ke, KEY_TYPE)) {
        this.stringBounds();
        const s = this.sS;
        const e = this.sE;
        isInference = this.bytesEqual(s, e, INFERENCE_TYPE_BYTES);
        if (!isInference) return { kind: "other", time };
      } else if (this.keyIs(ks, ke, KEY_TIME)) {
        this.stringBounds();
        const s = this.sS;
        const e = this.sE;
        time = this.timeAt(s, e);
      } else if (this.keyIs(ks, ke, KEY_DATA)) {
        if (isInference === undefined || Number.isNaN(time)) throw new Fallback("data before type/time");
        if (!(time >= since && time < until)) {
          this.state.counters.outsideWindow++;
          return { kind: "inference", time };
        }
        this.data();
        inWindow = true;
      } else this.skipValue();
      this.ws();
      const c = this.next();
      if (c === RBRACE) break;
      if (c !== COMMA) throw new Fallback("expected , or }");
    }
    if (isInference !== true || Number.isNaN(time) || !inWindow) throw new Fallback("no type, time or data");
    this.commit();
    return { kind: "inference", time };
  }

  /**
   * "YYYY-MM-DDTHH:MM:SS.sssZ" read from the bytes, with the date-hour part cached (events of a
   * window share a few hours); other forms go through parseTime.
   */
  private hourKey = Buffer.alloc(13);
  private hourMs = NaN;
  private timeAt(s: number, e: number): number {
    const b = this.buf;
    if (
      e - s === 24 &&
      b[s + 10] === 84 &&
      b[s + 19] === 46 &&
      b[s + 23] === 90 &&
      b[s + 13] === COLON &&
      b[s + 16] === COLON
    ) {
      const k = this.hourKey;
      let same = this.hourMs === this.hourMs;
      for (let i = 0; same && i < 13; i++) same = b[s + i] === k[i];
      if (!same) {
        this.hourMs = parseTime(b.toString("latin1", s, s + 13) + ":00:00Z");
        b.copy(k, 0, s, s + 13);
      }
      const mi = digit(b, s + 14) * 10 + digit(b, s + 15);
      const sec = digit(b, s + 17) * 10 + digit(b, s + 18);
      const ms = digit(b, s + 20) * 100 + digit(b, s + 21) * 10 + digit(b, s + 22);
      if (mi >= 0 && mi < 60 && sec >= 0 && sec < 61 && ms >= 0 && ms < 1000 && this.hourMs === this.hourMs)
        return this.hourMs + mi * 60_000 + sec * 1000 + ms;
    }
    return parseTime(b.toString("latin1", s, e));
  }

  private push(slot: number, kind: number, num = 0, str?: string): void {
    const n = this.jn;
    if (n === this.jSlot.length) {
      this.jSlot = grown(this.jSlot, (l) => new Int32Array(l));
      this.jKind = grown(this.jKind, (l) => new Uint8Array(l));
      this.jNum = grown(this.jNum, (l) => new Float64Array(l));
      const more = new Array<string | undefined>(this.jStr.length).fill(undefined);
      this.jStr = this.jStr.concat(more);
    }
    this.jSlot[n] = slot;
    this.jKind[n] = kind;
    this.jNum[n] = num;
    this.jStr[n] = str;
    this.jn = n + 1;
  }

  private commit(): void {
    const st = this.state;
    const feats = st.features;
    const pred = st.prediction;
    const n = this.jn;
    if (this.lineStaged) for (const f of feats) f.commitStaged();
    for (let i = 0; i < n; i++) {
      const slot = this.jSlot[i]!;
      const f = slot < 0 ? pred! : feats[slot]!;
      switch (this.jKind[i]) {
        case K_NUM:
          f.addNumber(this.jNum[i]!);
          break;
        case K_STR:
          f.addString(this.jStr[i]!);
          break;
        case K_TRUE:
          f.addBoolean(true);
          break;
        case K_FALSE:
          f.addBoolean(false);
          break;
        case K_MISSING:
          f.addMissing();
          break;
        default:
          f.addOther();
      }
    }
    for (const u of this.jUnexpected) st.addUnexpected(u);
    st.counters.rows += this.jRows;
    st.counters.events++;
    if (!this.jFeatures) st.counters.withoutFeatures++;
    if (this.jFailed) st.counters.failed++;
  }

  /** Reads only the top-level id (for the feedback join pass); undefined when absent. */
  scanId(buf: Buffer, start: number, end: number): string | undefined {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    this.ws();
    this.expect(LBRACE);
    this.ws();
    if (this.peek() === RBRACE) return undefined;
    for (;;) {
      this.key();
      const ks = this.sS;
      const ke = this.sE;
      if (this.keyIs(ks, ke, KEY_ID)) {
        this.stringBounds();
        const s = this.sS;
        const e = this.sE;
        return this.decode(s, e);
      }
      this.skipValue();
      this.ws();
      const c = this.next();
      if (c === RBRACE) return undefined;
      if (c !== COMMA) throw new Fallback("expected , or }");
    }
  }

  private data(): void {
    let hasFeatures = false;
    let failed = false;
    this.ws();
    this.expect(LBRACE);
    this.ws();
    if (this.peek() === RBRACE) {
      this.pos++;
      throw new Fallback("empty data");
    }
    // Feature rows are counted as they are read; a failed request with features still describes inputs.
    for (;;) {
      this.key();
      const ks = this.sS;
      const ke = this.sE;
      this.ws();
      if (this.keyIs(ks, ke, KEY_FEATURES)) {
        if (this.peek() === LBRACK) {
          hasFeatures = true;
          this.featureRows();
        } else this.skipValue();
      } else if (this.keyIs(ks, ke, KEY_PREDICTIONS)) {
        if (this.peek() === LBRACK) this.predictions();
        else this.skipValue();
      } else if (this.keyIs(ks, ke, KEY_STATUS)) {
        const s = this.number();
        if (s >= 400) failed = true;
      } else if (this.keyIs(ks, ke, KEY_ERROR)) {
        failed = true;
        this.skipValue();
      } else this.skipValue();
      this.ws();
      const c = this.next();
      if (c === RBRACE) break;
      if (c !== COMMA) throw new Fallback("expected , or } in data");
    }
    this.jFeatures = hasFeatures;
    this.jFailed = failed;
  }

  private featureRows(): void {
    this.expect(LBRACK);
    this.ws();
    if (this.peek() === RBRACK) {
      this.pos++;
      return;
    }
    for (;;) {
      this.ws();
      const mark = this.jn;
      const at = this.pos;
      if (!this.rowFast()) {
        this.jn = mark;
        this.pos = at;
        this.row();
      }
      this.ws();
      const c = this.next();
      if (c === RBRACK) return;
      if (c !== COMMA) throw new Fallback("expected , or ] in features");
    }
  }

  /**
   * The common row: every feature once, in the order the last general row() saw, as `"name":value`
   * with no whitespace: numbers for numeric features, unescaped strings for the others, or a literal.
   * Returns false at the first surprise, with what it staged taken back; the caller rewinds pos and
   * the journal and runs row().
   */
  private rowFast(): boolean {
    const b = this.buf;
    const end = this.end;
    let p = this.pos;
    if (b[p] !== LBRACE) return false;
    p++;
    const order = this.order;
    const pats = this.keyPatterns;
    const feats = this.state.features;
    const n = order.length;
    const stagedSlots = this.stagedSlots;
    let staged = 0;
    for (let i = 0; i < n; i++) {
      const slot = order[i]!;
      const pat = pats[slot]!;
      const len = pat.length;
      if (p + len >= end) return this.unstageRow(staged);
      for (let k = 0; k < len; k++) if (b[p + k] !== pat[k]) return this.unstageRow(staged);
      p += len;
      const c = b[p]!;
      if (c === Q) {
        if (this.numeric[slot]) return this.unstageRow(staged);
        const s = p + 1;
        let q = s;
        while (q < end && b[q] !== Q && b[q] !== BS) q++;
        if (q >= end || b[q] !== Q) return this.unstageRow(staged);
        this.escaped = false;
        this.push(slot, K_STR, 0, this.category(slot, s, q));
        p = q + 1;
      } else if ((c >= 48 && c <= 57) || c === 45) {
        if (!this.numeric[slot]) return this.unstageRow(staged);
        this.pos = p;
        if (!feats[slot]!.stage(this.number())) return this.unstageRow(staged);
        stagedSlots[staged++] = slot;
        p = this.pos;
        this.lineStaged = true;
      } else if (c === 116 && b[p + 1] === 114 && b[p + 2] === 117 && b[p + 3] === 101) {
        this.push(slot, K_TRUE);
        p += 4;
      } else if (c === 102 && b[p + 1] === 97 && b[p + 2] === 108 && b[p + 3] === 115 && b[p + 4] === 101) {
        this.push(slot, K_FALSE);
        p += 5;
      } else if (c === 110 && b[p + 1] === 117 && b[p + 2] === 108 && b[p + 3] === 108) {
        this.push(slot, K_MISSING);
        p += 4;
      } else return this.unstageRow(staged);
      if (b[p] !== (i === n - 1 ? RBRACE : COMMA)) return this.unstageRow(staged);
      p++;
    }
    this.pos = p;
    this.jRows++;
    return true;
  }

  /** Takes back the first `count` numbers rowFast staged for the row (slots in stagedSlots); returns false. */
  private unstageRow(count: number): boolean {
    const feats = this.state.features;
    for (let i = 0; i < count; i++) feats[this.stagedSlots[i]!]!.unstage();
    return false;
  }

  /** Whether this line staged numbers (commit() then commits them in every feature). */
  private lineStaged = false;

  /** The slots rowFast staged a number for, in the current row. */
  private readonly stagedSlots: Int32Array;
  /** The key order rowFast expects (slots), learned from the last complete row row() read. */
  private order: Int32Array;
  /** `"name":` per slot, as bytes. */
  private readonly keyPatterns: Buffer[];
  /** Whether a slot's baseline type is numeric (rowFast takes numbers only there). */
  private readonly numeric: Uint8Array;
  private readonly rowOrder: number[] = [];

  private row(): void {
    const st = this.state;
    const names = this.names;
    const seen = this.seen;
    const stamp = ++this.rowStamp;
    this.jRows++;
    this.expect(LBRACE);
    this.ws();
    let guess = 0;
    const seenOrder = this.rowOrder;
    seenOrder.length = 0;
    let clean = true;
    if (this.peek() !== RBRACE) {
      for (;;) {
        this.key();
        const ks = this.sS;
        const ke = this.sE;
        const keyEscaped = this.escaped;
        let slot = -1;
        if (!keyEscaped && guess < names.length && this.bytesEqual(ks, ke, names[guess]!)) slot = guess;
        else {
          const s = st.slots.get(this.decode(ks, ke, keyEscaped));
          if (s !== undefined) slot = s;
        }
        this.ws();
        if (slot < 0) {
          clean = false;
          this.jUnexpected.push(this.decode(ks, ke, keyEscaped));
          const v = this.peek();
          if (v === LBRACE || v === LBRACK) throw new Fallback("non-scalar feature value");
          this.skipValue();
        } else {
          guess = slot + 1;
          if (seen[slot] === stamp) throw new Fallback("duplicate key");
          seen[slot] = stamp;
          seenOrder.push(slot);
          this.value(slot);
        }
        this.ws();
        const c = this.next();
        if (c === RBRACE) break;
        if (c !== COMMA) throw new Fallback("expected , or } in feature row");
      }
    } else this.pos++;
    for (let i = 0; i < seen.length; i++) if (seen[i] !== stamp) this.push(i, K_MISSING);
    if (clean && seenOrder.length === names.length) this.order = Int32Array.from(seenOrder);
  }

  /** Journals one scalar value for a feature slot (-1: the prediction); containers count as "other". */
  /** Per feature slot, recently seen category strings by their bytes, to skip decoding them again. */
  private readonly catBytes: Buffer[][];
  private readonly catStrings: string[][];

  private category(slot: number, s: number, e: number): string {
    if (slot < 0 || this.escaped) return this.decode(s, e);
    const known = this.catBytes[slot]!;
    for (let i = 0; i < known.length; i++)
      if (this.bytesEqual(s, e, known[i]!)) return this.catStrings[slot]![i]!;
    const str = this.decode(s, e);
    if (known.length < 64 && e - s <= 64) {
      known.push(Buffer.from(this.buf.subarray(s, e)));
      this.catStrings[slot]!.push(str);
    }
    return str;
  }

  private value(slot: number): void {
    const c = this.peek();
    if (c === Q) {
      this.stringBounds();
      const s = this.sS;
      const e = this.sE;
      this.push(slot, K_STR, 0, this.category(slot, s, e));
    } else if (c === 110) {
      this.literal("null");
      this.push(slot, K_MISSING);
    } else if (c === 116) {
      this.literal("true");
      this.push(slot, K_TRUE);
    } else if (c === 102) {
      this.literal("false");
      this.push(slot, K_FALSE);
    } else if (c === LBRACE || c === LBRACK) {
      // Feature values are scalars in InferenceEvent v1; the slow path reports the schema break.
      if (slot >= 0) throw new Fallback("non-scalar feature value");
      this.skipValue();
      this.push(slot, K_OTHER);
    } else this.push(slot, K_NUM, this.number());
  }

  /** One prediction per row: a scalar, or a one-element array holding one; anything else is "other". */
  private predictions(): void {
    const has = this.state.prediction !== undefined;
    this.expect(LBRACK);
    this.ws();
    if (this.peek() === RBRACK) {
      this.pos++;
      return;
    }
    for (;;) {
      this.ws();
      if (!has) this.skipValue();
      else if (this.peek() === LBRACK) {
        const save = this.pos;
        this.pos++;
        this.ws();
        const c = this.peek();
        if (c === LBRACK || c === LBRACE || c === RBRACK) {
          this.pos = save;
          this.skipValue();
          this.push(-1, K_OTHER);
        } else {
          const mark = this.jn;
          this.value(-1);
          this.ws();
          if (this.peek() === RBRACK) this.pos++;
          else {
            this.jn = mark;
            this.pos = save;
            this.skipValue();
            this.push(-1, K_OTHER);
          }
        }
      } else this.value(-1);
      this.ws();
      const c2 = this.next();
      if (c2 === RBRACK) return;
      if (c2 !== COMMA) throw new Fallback("expected , or ] in predictions");
    }
  }

  // --- lexical helpers -------------------------------------------------------------------------

  private peek(): number {
    if (this.pos >= this.end) throw new Fallback("truncated line");
    return this.buf[this.pos]!;
  }

  private next(): number {
    if (this.pos >= this.end) throw new Fallback("truncated line");
    return this.buf[this.pos++]!;
  }

  private ws(): void {
    const b = this.buf;
    let p = this.pos;
    while (p < this.end) {
      const c = b[p]!;
      if (c === 32 || c === 9 || c === 10 || c === 13) p++;
      else break;
    }
    this.pos = p;
  }

  private expect(c: number): void {
    if (this.pos >= this.end || this.buf[this.pos] !== c)
      throw new Fallback(`expected ${String.fromCharCode(c)}`);
    this.pos++;
  }

  private literal(word: "null" | "true" | "false"): void {
    const b = this.buf;
    for (let i = 0; i < word.length; i++)
      if (b[this.pos + i] !== word.charCodeAt(i)) throw new Fallback("bad literal");
    this.pos += word.length;
  }

  /** Reads `"key"` then `:`; the key's byte bounds are left in sS/sE. */
  private key(): void {
    this.ws();
    this.stringBounds();
    this.ws();
    this.expect(COLON);
  }

  private keyIs(s: number, e: number, k: Buffer): boolean {
    return this.bytesEqual(s, e, k);
  }

  private bytesEqual(s: number, e: number, k: Buffer): boolean {
    if (e - s !== k.length) return false;
    const b = this.buf;
    for (let i = 0; i < k.length; i++) if (b[s + i] !== k[i]) return false;
    return true;
  }

  /** Whether the last string read had escapes (then it is decoded with JSON.parse). */
  private escaped = false;

  /** Bounds of the last string read by stringBounds (its raw content, without the quotes). */
  private sS = 0;
  private sE = 0;

  /** Reads a string; its raw content's bounds go to sS/sE. */
  private stringBounds(): void {
    this.expect(Q);
    const b = this.buf;
    const s = this.pos;
    const end = this.end;
    let esc = false;
    let p = s;
    for (; p < end; p++) {
      const c = b[p]!;
      if (c === Q) break;
      if (c === BS) {
        esc = true;
        p++;
      }
    }
    if (p >= end) throw new Fallback("unterminated string");
    this.escaped = esc;
    this.pos = p + 1;
    this.sS = s;
    this.sE = p;
  }

  private decode(s: number, e: number, escaped = this.escaped): string {
    if (!escaped) return this.buf.toString("utf8", s, e);
    return JSON.parse(this.buf.toString("utf8", s - 1, e + 1)) as string;
  }

  /** Returns the index of the closing quote of the string opening at p (native search for the quote). */
  private skipString(p: number): number {
    const b = this.buf;
    for (;;) {
      p = b.indexOf(Q, p + 1);
      if (p < 0 || p >= this.end) throw new Fallback("unterminated string");
      let bs = 0;
      while (b[p - 1 - bs] === BS) bs++;
      if (bs % 2 === 0) return p;
    }
  }

  /**
   * For an array of numbers opening at p, the index of its ']' when no quote, bracket or brace comes
   * before it (so it holds nothing but numbers), found with native byte searches; else -1.
   */
  private numericArrayEnd(p: number): number {
    const b = this.buf;
    const c = b[p + 1]!;
    if (!((c >= 48 && c <= 57) || c === 45)) return -1;
    const close = b.indexOf(RBRACK, p + 1);
    if (close < 0 || close >= this.end) return -1;
    const q = b.indexOf(Q, p + 1);
    if (q >= 0 && q < close) return -1;
    const o = b.indexOf(LBRACK, p + 1);
    if (o >= 0 && o < close) return -1;
    const ob = b.indexOf(LBRACE, p + 1);
    if (ob >= 0 && ob < close) return -1;
    return close;
  }

  private skipValue(): void {
    this.ws();
    const b = this.buf;
    const c = this.peek();
    if (c === Q) {
      this.pos = this.skipString(this.pos) + 1;
      return;
    }
    if (c === LBRACE || c === LBRACK) {
      // One pass over the bytes: x | 32 folds [ onto { and ] onto }, and no other byte maps to either.
      let depth = 0;
      const end = this.end;
      for (let p = this.pos; p < end; p++) {
        const x = b[p]!;
        if (x === Q) {
          for (p++; p < end; p++) {
            const y = b[p]!;
            if (y === Q) break;
            if (y === BS) p++;
          }
          continue;
        }
        if (x === LBRACK) {
          // An array of numbers (the request's tensor data) is skipped with native searches.
          const close = this.numericArrayEnd(p);
          if (close >= 0) {
            p = close;
            if (depth === 0) {
              this.pos = p + 1;
              return;
            }
            continue;
          }
        }
        const y = x | 32;
        if (y === LBRACE) depth++;
        else if (y === RBRACE && --depth === 0) {
          this.pos = p + 1;
          return;
        }
      }
      throw new Fallback("unterminated container");
    }
    // number or literal
    let p = this.pos;
    while (p < this.end) {
      const x = b[p]!;
      if (x === COMMA || x === RBRACE || x === RBRACK || x === 32 || x === 9 || x === 10 || x === 13) break;
      p++;
    }
    if (p === this.pos) throw new Fallback("empty value");
    this.pos = p;
  }

  /**
   * A JSON number. A mantissa up to 2^53 with a decimal exponent within +-22 is exact with one IEEE
   * multiply or divide (Clinger's fast path); anything else goes through Number().
   */
  private number(): number {
    const b = this.buf;
    const end = this.end;
    const start = this.pos;
    let p = start;
    let neg = false;
    if (b[p] === 45) {
      neg = true;
      p++;
    }
    let m = 0;
    const i0 = p;
    for (; p < end; p++) {
      const d = b[p]! - 48;
      if (d < 0 || d > 9) break;
      m = m * 10 + d;
    }
    if (p === i0) throw new Fallback("bad number");
    if (p - i0 > 1 && b[i0] === 48) throw new Fallback("leading zero");
    let scale = 0;
    if (p < end && b[p] === 46) {
      const f0 = ++p;
      for (; p < end; p++) {
        const d = b[p]! - 48;
        if (d < 0 || d > 9) break;
        m = m * 10 + d;
      }
      scale = p - f0;
      if (scale === 0) throw new Fallback("bad number");
    }
    let c: number;
    let exp = 0;
    if (p < this.end && (b[p] === 101 || b[p] === 69)) {
      p++;
      let eneg = false;
      if (b[p] === 45 || b[p] === 43) {
        eneg = b[p] === 45;
        p++;
      }
      const es = p;
      while (p < this.end && (c = b[p]!) >= 48 && c <= 57) {
        exp = exp * 10 + (c - 48);
        p++;
        if (exp > 100000) break;
      }
      if (p === es) throw new Fallback("bad number");
      if (eneg) exp = -exp;
    }
    this.pos = p;
    const e10 = exp - scale;
    if (m <= MAX_EXACT && e10 >= -22 && e10 <= 22) {
      const v = e10 >= 0 ? m * POW10[e10]! : m / POW10[-e10]!;
      return neg ? -v : v;
    }
    const v = Number(b.toString("latin1", start, p));
    if (!Number.isFinite(v)) throw new Fallback("number out of range");
    return v;
  }
}
