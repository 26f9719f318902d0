// Reads a batch body as it arrives, never holding more than the request limit: NDJSON is split into
// lines on the way in, and a line over the event limit is skipped (counted) instead of buffered.
import type { Readable } from "node:stream";

export interface BodyLimits {
  /** The whole body; beyond it reading stops and the request is refused (413). */
  maxRequestBytes: number;
  /** One event (one NDJSON line, or one JSON array element). */
  maxEventBytes: number;
}

/** An event left out of a batch for its size: its 1-based line (or array element) and its size. */
export interface OversizedEvent {
  index: number;
  bytes: number;
}

export type BatchBody =
  | { kind: "ok"; lines: string[]; oversized: OversizedEvent[] }
  | { kind: "too_large"; readBytes: number }
  | { kind: "bad"; message: string };

const NEWLINE = 0x0a;
const OPEN_BRACKET = 0x5b;

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;
}

/**
 * Reads a batch: NDJSON (one event per line) or a JSON array of events. Stops at maxRequestBytes
 * without reading further (the caller answers 413 and closes the connection). The stream is not
 * destroyed, so an answer can still be written.
 */
export async function readBatch(body: Readable, limits: BodyLimits): Promise<BatchBody> {
  const lines: string[] = [];
  const oversized: OversizedEvent[] = [];
  let total = 0;
  // NDJSON state: the pieces of the current line, or how long the oversized line being skipped is
  let parts: Buffer[] = [];
  let partBytes = 0;
  let skipping = false;
  let index = 0;
  // null until the first non-space byte says which format this is
  let array: boolean | null = null;
  const arrayParts: Buffer[] = [];

  const endLine = () => {
    if (skipping) {
      oversized.push({ index, bytes: partBytes });
    } else if (partBytes > 0) {
      const text = Buffer.concat(parts, partBytes).toString("utf8");
      if (text.trim() !== "") lines.push(text);
      else index--; // a blank line is not an event
    } else {
      index--;
    }
    parts = [];
    partBytes = 0;
    skipping = false;
  };

  for await (const raw of body.iterator({ destroyOnReturn: false })) {
    const chunk = raw as Buffer;
    total += chunk.length;
    if (total > limits.maxRequestBytes) return { kind: "too_large", readBytes: total };
    if (array === null) {
      const first = chunk.findIndex((b) => !isSpace(b));
      if (first >= 0) array = chunk[first] === OPEN_BRACKET;
    }
    if (array) {
      arrayParts.push(chunk);
      continue;
    }
    let start = 0;
    while (start < chunk.length) {
      if (partBytes === 0 && !skipping) index++;
      const nl = chunk.indexOf(NEWLINE, start);
      const end = nl < 0 ? chunk.length : nl;
      const piece = chunk.subarray(start, end);
      if (!skipping && partBytes + piece.length > limits.maxEventBytes) {
        skipping = true;
        parts = [];
      }
      if (!skipping) parts.push(piece);
      partBytes += piece.length;
      if (nl < 0) break;
      endLine();
      start = nl + 1;
    }
  }
  if (array) return arrayBatch(Buffer.concat(arrayParts).toString("utf8"), limits.maxEventBytes);
  if (partBytes > 0 || skipping) endLine();
  return { kind: "ok", lines, oversized };
}

function arrayBatch(text: string, maxEventBytes: number): BatchBody {
  let arr: unknown;
  try {
    arr = JSON.parse(text);
  } catch (err) {
    return { kind: "bad", message: (err as Error).message };
  }
  if (!Array.isArray(arr)) return { kind: "bad", message: "body is not a JSON array" };
  const lines: string[] = [];
  const oversized: OversizedEvent[] = [];
  arr.forEach((e, i) => {
    const line = JSON.stringify(e);
    const bytes = Buffer.byteLength(line);
    if (bytes > maxEventBytes) oversized.push({ index: i + 1, bytes });
    else lines.push(line);
  });
  return { kind: "ok", lines, oversized };
}
