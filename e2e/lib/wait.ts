// Polling helpers. The deadline only stops a stuck test; it never asserts on speed,
// so it is generous enough for a loaded 2-core CI machine.
import { setTimeout as sleep } from "node:timers/promises";
import { kubectlJson } from "./exec.js";

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
}

export const defaultWaitTimeoutMs = 180_000;

/**
 * Calls `probe` until it returns something other than undefined/false and returns that.
 * Errors thrown by the probe count as "not yet" (the last one is reported on timeout).
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  opts: WaitOptions = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? defaultWaitTimeoutMs;
  const intervalMs = opts.intervalMs ?? 500;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
      lastError = undefined;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? `; last error: ${lastError.message}` : "";
      throw new Error(`timed out after ${Math.round(timeoutMs / 1000)}s waiting for ${what}${why}`);
    }
    await sleep(intervalMs);
  }
}

/**
 * Waits until a CustomResourceDefinition is Established. (`kubectl wait --for=condition=Established`
 * fails at once on a CRD whose status has no conditions yet, which a fast API server shows right after
 * the apply.)
 */
export async function waitEstablished(crd: string): Promise<void> {
  type Crd = { status?: { conditions?: { type: string; status: string }[] } };
  await waitFor(`crd/${crd} Established`, async () =>
    ((await kubectlJson<Crd>(["get", "crd", crd])).status?.conditions ?? []).some(
      (c) => c.type === "Established" && c.status === "True",
    ),
  );
}
