// Retry policy for downloads: which failures are worth another try, and how long to wait.

/** A failure that another attempt will not fix (4xx other than 408/429, checksum mismatch, missing file). */
export class PermanentError extends Error {
  override name = "PermanentError";
}

/** HTTP statuses worth retrying: timeouts, throttling and server errors. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** Exponential backoff with full jitter: attempt 1 waits up to base, then 2x, 4x ... capped at max. */
export function backoffMs(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const cap = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(cap / 2 + (random() * cap) / 2);
}

export interface RetryOptions {
  attempts: number;
  baseMs: number;
  maxMs: number;
  onRetry?(attempt: number, delayMs: number, err: Error): void;
  sleep?(ms: number): Promise<void>;
}

export async function withRetry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (err instanceof PermanentError || attempt >= opts.attempts) throw err;
      const delay = backoffMs(attempt, opts.baseMs, opts.maxMs);
      opts.onRetry?.(attempt, delay, err as Error);
      await sleep(delay);
    }
  }
}
