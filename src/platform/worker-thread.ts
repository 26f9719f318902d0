// Starting a worker thread from either form of this package: dist/ (.js) or the sources under tsx
// (tests, bin/dev.ts). Node 20 does not apply the parent's --import tsx hooks to a worker's entry
// module, so a .ts entry is started through a tiny boot script that registers them first.
import { Worker, type WorkerOptions } from "node:worker_threads";

export function startWorker(entry: URL, opts: WorkerOptions = {}): Worker {
  if (!entry.pathname.endsWith(".ts")) return new Worker(entry, opts);
  const tsx = import.meta.resolve("tsx/esm/api");
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(boot, { ...opts, eval: true });
}
