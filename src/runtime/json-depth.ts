// A nesting-depth guard for request bodies, run on the raw bytes before JSON.parse sees them.
//
// JSON.parse itself copes with any depth, but it builds the whole tree first: 8 MB of "[[[[..." costs
// it ~2 s and ~250 MB, and every recursive walk afterwards (flattening, JSON.stringify in an error
// message) overflows the stack. This is not a parser: it only counts brackets outside strings, and
// JSON.parse still judges the syntax.

const OPEN_ARRAY = 0x5b; // [
const OPEN_OBJECT = 0x7b; // {
const CLOSE_ARRAY = 0x5d; // ]
const CLOSE_OBJECT = 0x7d; // }
const QUOTE = 0x22; // "
const BACKSLASH = 0x5c;
const NEEDLES = [OPEN_ARRAY, OPEN_OBJECT, CLOSE_ARRAY, CLOSE_OBJECT, QUOTE] as const;

/** The string's closing quote for the opening quote at `open`, or -1 when it is unterminated. */
function stringEnd(buf: Buffer, open: number): number {
  let j = buf.indexOf(QUOTE, open + 1);
  while (j !== -1) {
    let k = j - 1;
    while (buf[k] === BACKSLASH) k--;
    // An even run of backslashes escapes only itself, so the quote closes the string.
    if ((j - 1 - k) % 2 === 0) return j;
    j = buf.indexOf(QUOTE, j + 1);
  }
  return -1;
}

/** Below this size a plain byte loop beats the fixed cost of the indexOf calls (e.g. a binary request's JSON part). */
const SMALL = 1024;

/** The byte-loop twin of findTooDeep's jumps, for small bodies. */
function scanBytes(buf: Uint8Array, limit: number): number {
  let depth = 0;
  const n = buf.length;
  for (let i = 0; i < n; i++) {
    const c = buf[i]!;
    if (c === QUOTE) {
      for (i++; i < n; i++) {
        const d = buf[i]!;
        if (d === BACKSLASH) i++;
        else if (d === QUOTE) break;
      }
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > limit) return i;
    } else if ((c === CLOSE_ARRAY || c === CLOSE_OBJECT) && depth > 0) {
      depth--;
    }
  }
  return -1;
}

/**
 * The byte offset of the first `[` or `{` that opens level `limit + 1`, or -1 when the body never
 * nests deeper than `limit`. Jumps between brackets and quotes with Buffer indexOf (memchr) rather
 * than visiting every byte: a 5 KB tensor body costs ~2 us, against ~15 us for a byte loop and
 * ~35 us for JSON.parse.
 */
export function findTooDeep(buf: Buffer, limit: number): number {
  if (buf.length <= SMALL) return scanBytes(buf, limit);
  const next = NEEDLES.map((b) => buf.indexOf(b));
  let depth = 0;
  for (;;) {
    let kind = -1;
    let pos = Infinity;
    for (let n = 0; n < next.length; n++) {
      const p = next[n]!;
      if (p !== -1 && p < pos) {
        pos = p;
        kind = n;
      }
    }
    if (kind === -1) return -1;
    const byte = NEEDLES[kind]!;
    if (byte === QUOTE) {
      const end = stringEnd(buf, pos);
      // An unterminated string holds every later byte; JSON.parse will refuse it.
      if (end === -1) return -1;
      for (let n = 0; n < next.length; n++) {
        if (next[n] !== -1 && next[n]! <= end) next[n] = buf.indexOf(NEEDLES[n]!, end + 1);
      }
      continue;
    }
    if (byte === OPEN_ARRAY || byte === OPEN_OBJECT) {
      if (++depth > limit) return pos;
    } else if (depth > 0) {
      // Stray closers must not bank depth for later openers; JSON.parse refuses them anyway.
      depth--;
    }
    next[kind] = buf.indexOf(byte, pos + 1);
  }
}
