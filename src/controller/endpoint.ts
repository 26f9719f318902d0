import type { ModelDeployment } from "../api/v1alpha1/index.js";

/** What the controller read of the Gateway the HTTPRoute attaches to (its status and listeners). */
export interface GatewayView {
  /** status.addresses[].value, in order. */
  addresses: string[];
  listeners: { name: string; port: number; protocol: string }[];
}

export interface Endpoints {
  /**
   * The URL that honours the traffic split, for callers inside and outside the cluster; undefined
   * while the Gateway it goes through has no address yet.
   */
  endpoint?: string;
  /** The Service that selects the stable revision (or every revision with the plain Service provider). */
  serviceEndpoint: string;
}

/** The Gateway a gatewayAPI route sends its callers through: the first parentRef, unless it is a Service (GAMMA). */
export function gatewayParent(
  md: ModelDeployment,
): { name: string; namespace: string; sectionName?: string } | undefined {
  const t = md.spec.traffic;
  const ref = t.provider === "gatewayAPI" ? t.parentRefs?.[0] : undefined;
  if (!ref || ref.kind === "Service") return undefined;
  return {
    name: ref.name,
    namespace: ref.namespace ?? md.metadata.namespace ?? "default",
    ...(ref.sectionName ? { sectionName: ref.sectionName } : {}),
  };
}

/**
 * Pure: where callers reach the model.
 * - service: the ModelDeployment's Service, which selects every revision, so replicas split the traffic.
 * - istio: the same Service; the VirtualService (hosts: the Service) applies to callers in the mesh.
 * - gatewayAPI with a Service parent (GAMMA): that Service; the mesh applies the HTTPRoute to its callers.
 * - gatewayAPI with a Gateway parent: the Gateway, by the route's first hostname (callers resolve it to
 *   the Gateway, as for any hostname routed there) or else by the Gateway's first address, on the port of
 *   the named listener (or the first HTTP one). Calling the Service instead would bypass the split.
 */
export function endpointsOf(md: ModelDeployment, clusterDomain: string, gateway?: GatewayView): Endpoints {
  const name = md.metadata.name;
  const ns = md.metadata.namespace ?? "default";
  const path = `/v2/models/${md.spec.model.name}`;
  const serviceEndpoint = `http://${name}.${ns}.svc.${clusterDomain}${path}`;
  const t = md.spec.traffic;
  if (t.provider !== "gatewayAPI") return { endpoint: serviceEndpoint, serviceEndpoint };
  const ref = t.parentRefs?.[0];
  if (ref?.kind === "Service") {
    const port = ref.port && ref.port !== 80 ? `:${ref.port}` : "";
    return {
      endpoint: `http://${ref.name}.${ref.namespace ?? ns}.svc.${clusterDomain}${port}${path}`,
      serviceEndpoint,
    };
  }
  const parent = gatewayParent(md);
  const listener =
    gateway?.listeners.find((l) => l.name === parent?.sectionName) ??
    gateway?.listeners.find((l) => l.protocol === "HTTP") ??
    gateway?.listeners[0];
  const port = ref?.port ?? listener?.port;
  const hostname = t.hostnames?.find((h) => !h.startsWith("*"));
  const host = hostname ?? gateway?.addresses[0];
  if (!host) return { serviceEndpoint };
  const https = listener?.protocol === "HTTPS";
  const defaultPort = https ? 443 : 80;
  const hostPart = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  return {
    endpoint: `${https ? "https" : "http"}://${hostPart}${port && port !== defaultPort ? `:${port}` : ""}${path}`,
    serviceEndpoint,
  };
}

/** Reads a Gateway object's addresses and listeners; tolerant of a Gateway that has no status yet. */
export function gatewayView(obj: unknown): GatewayView {
  const o = obj as {
    spec?: { listeners?: { name?: string; port?: number; protocol?: string }[] };
    status?: { addresses?: { value?: string }[] };
  };
  return {
    addresses: (o.status?.addresses ?? []).map((a) => a.value ?? "").filter((v) => v !== ""),
    listeners: (o.spec?.listeners ?? []).map((l) => ({
      name: l.name ?? "",
      port: l.port ?? 0,
      protocol: l.protocol ?? "HTTP",
    })),
  };
}
