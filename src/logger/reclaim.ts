import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/**
 * Gives large bodies' memory back to the system once the logger is idle. A body's buffer lives outside
 * V8's heap, but it is freed only when a garbage collection finds it dead, and an idle process collects
 * nothing: after a burst of 60 MiB uploads RSS would stay high until traffic resumes. So once the body
 * budget empties after holding a lot, one full collection runs a second later (about 20 ms on the
 * logger's small heap), at most once per second.
 */
export class Reclaimer {
  private timer: NodeJS.Timeout | undefined;
  private gc: (() => void) | undefined;

  /** `gcFactory` is called the first time a collection is due (exposing gc costs about 2 MB of RSS). */
  constructor(
    private readonly gcFactory: () => () => void,
    private readonly delayMs = 1_000,
  ) {}

  schedule(): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.gc ??= this.gcFactory();
      this.gc();
    }, this.delayMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** V8's full collection: the global gc() under --expose-gc, else one exposed now for a new context. */
export function fullGc(): () => void {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === "function") return exposed;
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
}
