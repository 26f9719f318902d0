// Reading plain NDJSON files in byte ranges, so each drift worker reads its own share straight from
// disk instead of the main thread reading and copying every byte to it. A line belongs to the range
// that holds its first byte: a range skips a partial first line and reads past its end to finish its
// last one, so ranges cover every line exactly once.
import { closeSync, openSync, readSync } from "node:fs";

export interface FileRange {
  file: string;
  start: number;
  end: number;
}

/** Bytes per range: large enough that per-range overhead vanishes, small enough to balance workers. */
export const RANGE_BYTES = 16 << 20;
/** Read buffer per worker; a longer line grows it to fit (bounded by the longest line). */
const READ_BYTES = 4 << 20;
const NL = 10;

/** Splits a file of `size` bytes into ranges of at most `rangeBytes`. */
export function splitRanges(file: string, size: number, rangeBytes = RANGE_BYTES): FileRange[] {
  const out: FileRange[] = [];
  for (let start = 0; start < size; start += rangeBytes)
    out.push({ file, start, end: Math.min(size, start + rangeBytes) });
  return out;
}

/**
 * Reads the lines whose first byte lies in [start, end) and hands them over in chunks that each end
 * on a line boundary (the file's last line may lack its newline). The chunk is a view into a reused
 * buffer: consume it before returning.
 */
export class RangeReader {
  private buf = Buffer.allocUnsafe(READ_BYTES);

  read(range: FileRange, onChunk: (chunk: Buffer) => void): void {
    const fd = openSync(range.file, "r");
    try {
      this.readFd(fd, range, onChunk);
    } finally {
      closeSync(fd);
    }
  }

  private readFd(fd: number, { start, end }: FileRange, onChunk: (chunk: Buffer) => void): void {
    // The buffer holds file bytes [base, base + have); lines this range owns start at buffer index `from`.
    // A range after the first starts one byte early: if that byte is a newline, its first line is whole.
    let base = start > 0 ? start - 1 : 0;
    let have = 0;
    let from = 0;
    let skipping = start > 0;
    for (;;) {
      if (have === this.buf.length) {
        const bigger = Buffer.allocUnsafe(this.buf.length * 2);
        this.buf.copy(bigger, 0, 0, have);
        this.buf = bigger;
      }
      const n = readSync(fd, this.buf, have, this.buf.length - have, base + have);
      const eof = n === 0;
      have += n;
      if (skipping) {
        const nl = this.buf.indexOf(NL, from);
        if (nl < 0 || nl >= have) {
          if (eof) return;
          base += have;
          have = 0;
          continue;
        }
        from = nl + 1;
        skipping = false;
      }
      if (base + from >= end) return;
      // The last line owned is the one holding byte end - 1: it ends at the first newline from there.
      const stop = this.buf.indexOf(NL, Math.max(from, end - 1 - base));
      if (stop >= 0 && stop < have) {
        onChunk(this.buf.subarray(from, stop + 1));
        return;
      }
      if (eof) {
        if (have > from) onChunk(this.buf.subarray(from, have));
        return;
      }
      const last = this.buf.lastIndexOf(NL, have - 1);
      if (last >= from) {
        onChunk(this.buf.subarray(from, last + 1));
        from = last + 1;
      }
      this.buf.copy(this.buf, 0, from, have);
      base += from;
      have -= from;
      from = 0;
    }
  }
}
