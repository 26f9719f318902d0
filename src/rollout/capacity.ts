/**
 * Free GPUs for `context.freeGPUs`: what schedulable, Ready nodes (of the wanted GPU product) can still give,
 * from their allocatable resources minus the requests of pods bound to them that have not finished. Pure, over
 * the Node and Pod objects the controller's caches hold.
 */
export interface NodeLike {
  metadata?: { name?: string; labels?: Record<string, string> };
  spec?: { unschedulable?: boolean };
  status?: { allocatable?: Record<string, string>; conditions?: { type: string; status: string }[] };
}

interface ContainerLike {
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  restartPolicy?: string;
}

export interface PodLike {
  spec?: { nodeName?: string; containers?: ContainerLike[]; initContainers?: ContainerLike[] };
  status?: { phase?: string };
}

/** Extended resources (GPUs) are whole numbers; a request defaults to the limit, as the API server does. */
function amount(c: ContainerLike, resource: string): number {
  const v = c.resources?.requests?.[resource] ?? c.resources?.limits?.[resource];
  const n = v === undefined ? 0 : Number(v);
  return Number.isFinite(n) ? n : 0;
}

/** A pod's effective request: its containers and native sidecars, or its largest init container if larger. */
export function podRequest(pod: PodLike, resource: string): number {
  const init = pod.spec?.initContainers ?? [];
  const sidecars = init.filter((c) => c.restartPolicy === "Always");
  const running = [...(pod.spec?.containers ?? []), ...sidecars].reduce((s, c) => s + amount(c, resource), 0);
  const initPeak = Math.max(
    0,
    ...init.filter((c) => c.restartPolicy !== "Always").map((c) => amount(c, resource)),
  );
  return Math.max(running, initPeak);
}

export function freeGPUs(
  nodes: NodeLike[],
  pods: PodLike[],
  resource = "nvidia.com/gpu",
  product?: string,
): number {
  const usable = nodes.filter(
    (n) =>
      !n.spec?.unschedulable &&
      (n.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True") &&
      (product === undefined || n.metadata?.labels?.["nvidia.com/gpu.product"] === product),
  );
  let free = 0;
  for (const n of usable) {
    const allocatable = Number(n.status?.allocatable?.[resource] ?? 0);
    if (!Number.isFinite(allocatable) || allocatable <= 0) continue;
    const used = pods
      .filter((p) => p.spec?.nodeName === n.metadata?.name)
      .filter((p) => p.status?.phase !== "Succeeded" && p.status?.phase !== "Failed")
      .reduce((s, p) => s + podRequest(p, resource), 0);
    free += Math.max(0, allocatable - used);
  }
  return free;
}
