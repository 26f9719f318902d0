// CPU priority of the calling thread. Linux keeps a nice value per thread, and threads a thread creates
// inherit it, so lowering it in a worker before onnxruntime builds its thread pool covers all of them.
import { readlinkSync } from "node:fs";
import { getPriority, setPriority } from "node:os";

/** The kernel's id of the thread in a "/proc/thread-self" link target ("<pid>/task/<tid>"). */
export function threadIdFromLink(link: string): number | undefined {
  const m = /^(\d+)\/task\/(\d+)$/.exec(link);
  return m ? Number(m[2]) : undefined;
}

/** The calling thread's kernel id, or undefined where there is no /proc/thread-self (not Linux). */
export function currentThreadId(): number | undefined {
  try {
    return threadIdFromLink(readlinkSync("/proc/thread-self"));
  } catch {
    return undefined;
  }
}

/**
 * Sets the calling thread's nice value (0-19; higher runs later). Only raising it needs no privilege.
 * Returns undefined once applied, else why it was not.
 */
export function niceCurrentThread(nice: number): string | undefined {
  const tid = currentThreadId();
  if (tid === undefined) return "per-thread priorities need Linux (/proc/thread-self)";
  try {
    setPriority(tid, nice);
    const now = getPriority(tid);
    return now === nice ? undefined : `the kernel kept nice ${now} instead of ${nice}`;
  } catch (err) {
    return (err as Error).message;
  }
}
