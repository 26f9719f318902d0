import { Registry, collectDefaultMetrics } from "prom-client";

/** Every server owns its own Registry: no global default registry, so tests can run servers side by side. */
export function createRegistry(component: string, opts: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ component });
  if (opts.defaultMetrics ?? true)
    collectDefaultMetrics({ register: registry, prefix: "modelship_process_" });
  return registry;
}
