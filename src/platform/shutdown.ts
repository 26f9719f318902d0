import type { Logger } from "./log.js";

/**
 * Resolves once on the first SIGTERM/SIGINT and returns an AbortSignal for the same moment.
 * A second signal exits at once, so a stuck drain can always be interrupted.
 */
export function onShutdown(log: Logger): { signal: AbortSignal; done: Promise<string> } {
  const controller = new AbortController();
  const done = new Promise<string>((resolve) => {
    let seen = false;
    const handler = (sig: NodeJS.Signals) => {
      if (seen) {
        log.warn({ signal: sig }, "Received second signal, exiting now");
        process.exit(130);
      }
      seen = true;
      log.info({ signal: sig }, "Received shutdown signal, draining");
      controller.abort(new Error(`received ${sig}`));
      resolve(sig);
    };
    process.on("SIGTERM", handler);
    process.on("SIGINT", handler);
  });
  return { signal: controller.signal, done };
}
