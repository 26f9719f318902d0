/**
 * Gather: everything one reconcile of a ModelDeployment looks at, read once into a plain value. The caches
 * (children, pods, nodes) cost nothing to read; the only calls are a PVC get, a Gateway get and the due
 * analysis queries. Everything after this (src/controller/plan.ts) is pure over the snapshot.
 */
import type { Logger } from "pino";
import type { ModelDeployment } from "../api/v1alpha1/index.js";
import { measureDue } from "../analysis/measure.js";
import type { PrometheusClient } from "../analysis/prometheus.js";
import { defaultSelectorConfig } from "../analysis/promql.js";
import type { KubeClient, KubeObject } from "../k8s/client.js";
import { isNotFound } from "../k8s/errors.js";
import type { Cache } from "../k8s/informer.js";
import { childKinds, resourcePath, resourceTypes } from "../k8s/resources.js";
import { labelKeys, podSelector, selectorString } from "../render/labels.js";
import { pvcClaim } from "../render/pod.js";
import { revisionsConfigMapName } from "../render/revisions-configmap.js";
import type { AnalysisMeasurement } from "../rollout/types.js";
import { gatewayParent, gatewayView, type GatewayView } from "./endpoint.js";

export interface Snapshot {
  /** The ModelDeployment as cached (status writes and Events refer to it). */
  raw: KubeObject;
  md: ModelDeployment;
  /** The children this ModelDeployment owns, by kind (only kinds the controller watches). */
  owned: Map<string, KubeObject[]>;
  /** This ModelDeployment's pods. */
  pods: KubeObject[];
  /** For a GPU model: every cached pod that holds an extended resource (GPUs), in any namespace seen. */
  gpuPods: KubeObject[];
  nodes: KubeObject[];
  /** False until the Node cache has listed once: the GPU checks wait for it. */
  nodesSynced: boolean;
  /** Kinds whose CRDs are installed. */
  availableKinds: Set<string>;
  /** The PVCs the models' `pvc://` uris name (the field that names each first), and whether they exist. */
  modelClaims: { name: string; field: string; exists: boolean }[];
  /** The Gateway a gatewayAPI route goes through, when it could be read. */
  gateway?: GatewayView;
  measurements: AnalysisMeasurement[];
  /** The kept-revisions ConfigMap (`modelship rollback`), as cached. */
  keptRevisions?: KubeObject;
}

export interface GatherDeps {
  client: KubeClient;
  caches: Map<string, Cache>;
  availableKinds: () => Set<string>;
  prometheus?: PrometheusClient;
  log: Logger;
}

const isOwnedBy = (md: ModelDeployment) => (o: KubeObject) =>
  o.metadata?.namespace === md.metadata.namespace &&
  o.metadata?.labels?.[labelKeys.deployment] === md.metadata.name &&
  (o.metadata?.ownerReferences ?? []).some((r) => r.uid === md.metadata.uid);

const usesGPU = (p: KubeObject) =>
  [
    ...((p as { spec?: { containers?: unknown[] } }).spec?.containers ?? []),
    ...((p as { spec?: { initContainers?: unknown[] } }).spec?.initContainers ?? []),
  ].some((c) => (c as { resources?: unknown }).resources !== undefined);

export async function gather(
  d: GatherDeps,
  raw: KubeObject,
  md: ModelDeployment,
  now: Date,
  log: Logger,
): Promise<Snapshot> {
  const namespace = md.metadata.namespace ?? "default";
  const name = md.metadata.name;
  const owned = new Map<string, KubeObject[]>();
  for (const t of childKinds) {
    const cache = d.caches.get(t.kind);
    if (cache) owned.set(t.kind, cache.list(isOwnedBy(md)));
  }
  const podCache = d.caches.get(resourceTypes.Pod.kind);
  const nodeCache = d.caches.get(resourceTypes.Node.kind);
  const nodes = nodeCache?.list() ?? [];
  const gpuModel = (md.spec.resources.gpu?.count ?? 0) > 0;
  let pods: KubeObject[];
  let gpuPods: KubeObject[];
  if (podCache?.hasSynced) {
    pods = podCache.list(
      (p) => p.metadata?.namespace === namespace && p.metadata?.labels?.[labelKeys.deployment] === name,
    );
    gpuPods = gpuModel ? podCache.list(usesGPU) : [];
  } else {
    // No pod watch (RBAC grants pods `list` only): list what this reconcile needs, as before the Pod cache.
    pods = (owned.get(resourceTypes.Deployment.kind) ?? []).some(notReady)
      ? await listPods(d.client, namespace, { labelSelector: selectorString(podSelector(name)) })
      : [];
    gpuPods = gpuModel ? await podsOnGPUNodes(d.client, nodes) : [];
  }
  const snapshot: Snapshot = {
    raw,
    md,
    owned,
    pods,
    gpuPods,
    nodes,
    nodesSynced: nodeCache?.hasSynced ?? false,
    availableKinds: d.availableKinds(),
    measurements: [],
    modelClaims: [],
  };
  const kept = d.caches.get(resourceTypes.ConfigMap.kind)?.get(namespace, revisionsConfigMapName(name));
  if (kept) snapshot.keptRevisions = kept;

  const uris = [
    { field: "spec.model.uri", uri: md.spec.model.uri },
    ...(md.spec.additionalModels ?? []).map((m, i) => ({
      field: `spec.additionalModels[${i}].uri`,
      uri: m.uri,
    })),
  ];
  for (const { field, uri } of uris) {
    const name = pvcClaim(uri);
    if (name && !snapshot.modelClaims.some((c) => c.name === name))
      snapshot.modelClaims.push({ name, field, exists: await exists(d.client, namespace, name) });
  }
  const gateway = await gatewayOf(d.client, md, log);
  if (gateway) snapshot.gateway = gateway;
  if (d.prometheus) {
    const m = await measureDue(d.prometheus, md, now, { ...defaultSelectorConfig, matchers: { namespace } });
    snapshot.measurements = m.measurements;
    for (const e of m.errors) log.warn({ template: e.template, err: e.message }, "Analysis query failed");
  }
  return snapshot;
}

const notReady = (dep: KubeObject) => {
  const d = dep as { spec?: { replicas?: number }; status?: { readyReplicas?: number } };
  return (d.status?.readyReplicas ?? 0) < (d.spec?.replicas ?? 0);
};

async function listPods(
  client: KubeClient,
  namespace: string | undefined,
  query: Record<string, string>,
): Promise<KubeObject[]> {
  return (await client.get<{ items: KubeObject[] }>(resourcePath(resourceTypes.Pod, namespace), query)).items;
}

/** The pods bound to each node that offers GPUs, any namespace. */
async function podsOnGPUNodes(client: KubeClient, nodes: KubeObject[]): Promise<KubeObject[]> {
  const gpuNodes = nodes.filter((n) =>
    Object.keys((n as { status?: { allocatable?: object } }).status?.allocatable ?? {}).some((k) =>
      k.startsWith("nvidia.com/"),
    ),
  );
  const out: KubeObject[] = [];
  for (const n of gpuNodes)
    out.push(...(await listPods(client, undefined, { fieldSelector: `spec.nodeName=${n.metadata?.name}` })));
  return out;
}

async function exists(client: KubeClient, namespace: string, claim: string): Promise<boolean> {
  try {
    await client.get(resourcePath(resourceTypes.PersistentVolumeClaim, namespace, claim));
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

/** The Gateway status.endpoint goes through; undefined when there is none, or it cannot be read yet. */
async function gatewayOf(
  client: KubeClient,
  md: ModelDeployment,
  log: Logger,
): Promise<GatewayView | undefined> {
  const parent = gatewayParent(md);
  if (!parent) return undefined;
  try {
    return gatewayView(await client.get(resourcePath(resourceTypes.Gateway, parent.namespace, parent.name)));
  } catch (err) {
    log.debug(
      { gateway: `${parent.namespace}/${parent.name}`, err: String(err) },
      "Could not read the Gateway",
    );
    return undefined;
  }
}
