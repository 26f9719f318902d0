/**
 * The client's own text of each OIP v2 input's `data`, read from the request body that JSON.parse has
 * already accepted. An event can then carry those numbers as the client wrote them instead of formatting
 * every double again (formatting is most of an event's cost on a wide input).
 *
 * Only the plain case is read: a flat array of numbers under an `inputs` key at the top level. Anything
 * else (nested data, strings, a key written with escapes, which JSON.parse would decode and this reader
 * would not) gives undefined for that input or for the whole body, and the event is formatted as before.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

const isSpace = (c: number | undefined) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

function skipSpace(b: Buffer, i: number): number {
  while (isSpace(b[i])) i++;
  return i;
}

/** Index just past the string that opens at i. */
function skipString(b: Buffer, i: number): number {
  for (i++; i < b.length; i++) {
    const c = b[i];
    if (c === BACKSLASH) i++;
    else if (c === QUOTE) return i + 1;
  }
  return b.length;
}

/** Index just past the value that starts at i (the body is known to be valid JSON). */
function skipValue(b: Buffer, i: number): number {
  const c = b[i];
  if (c === QUOTE) return skipString(b, i);
  if (c !== LBRACE && c !== LBRACKET) {
    while (i < b.length && b[i] !== COMMA && b[i] !== RBRACE && b[i] !== RBRACKET && !isSpace(b[i])) i++;
    return i;
  }
  let depth = 0;
  for (; i < b.length; i++) {
    const x = b[i];
    if (x === QUOTE) i = skipString(b, i) - 1;
    else if (x === LBRACE || x === LBRACKET) depth++;
    else if ((x === RBRACE || x === RBRACKET) && --depth === 0) return i + 1;
  }
  return b.length;
}

/** Whether the key between quotes at [from, to) holds an escape (its decoded name is unknown here). */
function escaped(b: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (b[i] === BACKSLASH) return true;
  return false;
}

/**
 * Walks the members of the object that opens at i: onMember(key, valueStart) returns where that value
 * ends. Returns the index past the object, or -1 when a key holds an escape.
 */
function walkObject(b: Buffer, i: number, onMember: (key: string, start: number) => number): number {
  i = skipSpace(b, i + 1);
  while (b[i] === QUOTE) {
    const keyEnd = skipString(b, i);
    if (escaped(b, i + 1, keyEnd - 1)) return -1;
    const colon = skipSpace(b, keyEnd);
    if (b[colon] !== COLON) return -1;
    const end = onMember(b.toString("latin1", i + 1, keyEnd - 1), skipSpace(b, colon + 1));
    if (end < 0) return -1;
    i = skipSpace(b, end);
    if (b[i] !== COMMA) break;
    i = skipSpace(b, i + 1);
  }
  return b[i] === RBRACE ? i + 1 : -1;
}

/**
 * In valid JSON a value opens with a quote, a brace, a bracket, a digit, a minus or the letter of true,
 * false or null: a range without any of these others holds numbers, commas and whitespace only.
 */
const NOT_A_NUMBER = [QUOTE, LBRACE, LBRACKET, 0x74, 0x66, 0x6e];
const SPACES = [0x20, 0x0a, 0x0d, 0x09];

/** Where a data value ends, and its text when it is a flat array of numbers (whitespace removed). */
function dataValue(b: Buffer, start: number): { end: number; text?: string } {
  if (b[start] === LBRACKET) {
    // a flat array of numbers closes at the first bracket; the native searches prove nothing else is inside
    const close = b.indexOf(RBRACKET, start);
    const inside = b.subarray(start + 1, close);
    if (close > 0 && NOT_A_NUMBER.every((c) => !inside.includes(c))) {
      const text = b.toString("latin1", start, close + 1);
      const spaced = SPACES.some((c) => inside.includes(c));
      return { end: close + 1, text: spaced ? text.replace(/\s+/g, "") : text };
    }
  }
  return { end: skipValue(b, start) };
}

/**
 * The text of each input's data, by position in `inputs` (undefined where it is not a flat array of
 * numbers); undefined when the body has no such list or uses escaped keys. Like JSON.parse, the last of
 * duplicate keys wins.
 */
export function inputDataTexts(json: Buffer): (string | undefined)[] | undefined {
  const top = skipSpace(json, 0);
  if (json[top] !== LBRACE) return undefined;
  let texts: (string | undefined)[] | undefined;
  const end = walkObject(json, top, (key, start) => {
    if (key !== "inputs" || json[start] !== LBRACKET) {
      if (key === "inputs") texts = undefined;
      return skipValue(json, start);
    }
    const found: (string | undefined)[] = [];
    let i = skipSpace(json, start + 1);
    while (i < json.length && json[i] !== RBRACKET) {
      let text: string | undefined;
      const next =
        json[i] === LBRACE
          ? walkObject(json, i, (k, s) => {
              if (k !== "data") return skipValue(json, s);
              const v = dataValue(json, s);
              text = v.text;
              return v.end;
            })
          : skipValue(json, i);
      if (next < 0) return -1;
      found.push(text);
      i = skipSpace(json, next);
      if (json[i] === COMMA) i = skipSpace(json, i + 1);
    }
    texts = found;
    return i + 1;
  });
  return end < 0 ? undefined : texts;
}

/** How many numbers a text from inputDataTexts holds (a native search per comma: a loop over chars is slower). */
export function countNumbers(text: string): number {
  if (text.length <= 2) return 0;
  let n = 1;
  for (let i = text.indexOf(","); i >= 0; i = text.indexOf(",", i + 1)) n++;
  return n;
}
