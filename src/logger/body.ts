/**
 * Bodies held in memory while a request is proxied, bounded three ways: one body by --max-body-bytes
 * (413), all bodies together by the in-flight budget (--max-inflight-body-bytes, 503), and the pieces a
 * body may arrive in (413): a million one-byte chunks cost a million buffers and events, not a million
 * bytes, so they are refused by count.
 */

/** Bytes of request and response bodies that all requests together may hold. */
export class BodyBudget {
  private used = 0;
  private peak = 0;

  /** `onEmpty` is told when nothing is held any more, after at least `reclaimBytes` were held at once. */
  constructor(
    readonly limit: number,
    private readonly onEmpty?: () => void,
    private readonly reclaimBytes = 8 * 1024 * 1024,
  ) {}

  get inUse(): number {
    return this.used;
  }

  tryReserve(bytes: number): boolean {
    if (this.used + bytes > this.limit) return false;
    this.used += bytes;
    if (this.used > this.peak) this.peak = this.used;
    return true;
  }

  release(bytes: number): void {
    this.used -= bytes;
    if (this.used === 0 && this.peak >= this.reclaimBytes) {
      this.peak = 0;
      this.onEmpty?.();
    }
  }
}

export type RefusalReason = "body_too_large" | "body_budget" | "body_chunks";

/** Why a body was not taken: the status for the client, the reason for the metric, a message. */
export interface Refusal {
  status: 413 | 503;
  reason: RefusalReason;
  message: string;
}

export interface BodyLimits {
  /** One body larger than this is refused (413). */
  maxBytes: number;
  /** A body that arrives in more pieces than this is refused (413). */
  maxChunks: number;
}

const EMPTY = Buffer.alloc(0);
/** First allocation for a body of unknown length; it doubles from there. */
const INITIAL_BYTES = 16 * 1024;

/**
 * Collects one body into a single buffer: preallocated when the length is declared, else grown by
 * doubling. Every byte of capacity is reserved from the budget first, so what the budget says is held
 * is what is allocated; release() gives it back (call it once the body is no longer needed).
 */
export class BodyBuffer {
  private buf: Buffer | undefined;
  private reserved = 0;
  length = 0;
  chunks = 0;

  constructor(
    private readonly budget: BodyBudget,
    private readonly limits: BodyLimits,
  ) {}

  /** Called once, before the first push, with the declared length (Content-Length) if there is one. */
  expect(declared: number | undefined): Refusal | undefined {
    if (declared === undefined || declared === 0) return undefined;
    if (declared > this.limits.maxBytes) return tooLarge(this.limits.maxBytes);
    if (!this.budget.tryReserve(declared)) return overBudget(this.budget);
    this.reserved = declared;
    this.buf = Buffer.allocUnsafe(declared);
    return undefined;
  }

  push(chunk: Buffer): Refusal | undefined {
    if (++this.chunks > this.limits.maxChunks) {
      return {
        status: 413,
        reason: "body_chunks",
        message: `body sent in more than ${this.limits.maxChunks} pieces; send larger chunks`,
      };
    }
    const end = this.length + chunk.length;
    if (end > this.limits.maxBytes) return tooLarge(this.limits.maxBytes);
    if (this.buf === undefined || end > this.buf.length) {
      const refused = this.grow(end);
      if (refused !== undefined) return refused;
    }
    chunk.copy(this.buf!, this.length);
    this.length = end;
    return undefined;
  }

  private grow(atLeast: number): Refusal | undefined {
    const current = this.buf?.length ?? 0;
    const size = Math.min(this.limits.maxBytes, Math.max(atLeast, current * 2, INITIAL_BYTES));
    if (!this.budget.tryReserve(size - this.reserved)) return overBudget(this.budget);
    this.reserved = size;
    const next = Buffer.allocUnsafe(size);
    if (this.buf !== undefined) this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
    return undefined;
  }

  /** The bytes received (a view of the buffer: valid until release()). */
  body(): Buffer {
    return this.buf === undefined ? EMPTY : this.buf.subarray(0, this.length);
  }

  release(): void {
    this.budget.release(this.reserved);
    this.reserved = 0;
    this.buf = undefined;
  }
}

function tooLarge(max: number): Refusal {
  return { status: 413, reason: "body_too_large", message: `body over the ${max} byte limit` };
}

function overBudget(budget: BodyBudget): Refusal {
  return {
    status: 503,
    reason: "body_budget",
    message: `bodies in flight hold ${budget.inUse} of ${budget.limit} bytes; retry shortly`,
  };
}
