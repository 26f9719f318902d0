/**
 * What the controller's caches keep of each object: only the fields it reads. A cache transform runs once per
 * watch event, so a reconcile reads small objects and the controller's memory grows with what it needs,
 * not with what the API server stores (a Deployment's defaults and status, a Node's image list).
 */
import type { KubeObject } from "./client.js";
import { appliedFieldSet, projectFields } from "./owned-fields.js";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A cache transform: the object to keep, or undefined to keep nothing (the object is of no interest). */
export type CacheTransform = (o: KubeObject) => KubeObject | undefined;

/** Annotations that only repeat an object's content (kubectl's last applied copy of the whole spec). */
const bulkyAnnotations = ["kubectl.kubernetes.io/last-applied-configuration"];

/** The metadata every cached object keeps: identity, ownership and lifecycle. */
function identity(meta: Obj): Obj {
  const out: Obj = {};
  for (const k of [
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "labels",
    "ownerReferences",
  ])
    if (meta[k] !== undefined) out[k] = meta[k];
  return out;
}

/** A ModelDeployment: all of it (the controller reads spec and status), less managedFields and kubectl's copy. */
export function slimModelDeployment(o: KubeObject): KubeObject {
  const { managedFields: _m, annotations, ...meta } = (o.metadata ?? {}) as Obj;
  const kept = annotations
    ? Object.fromEntries(Object.entries(annotations as Obj).filter(([k]) => !bulkyAnnotations.includes(k)))
    : undefined;
  return { ...o, metadata: { ...meta, ...(kept ? { annotations: kept } : {}) } } as KubeObject;
}

/**
 * A child the controller applies: its identity, the fields the controller's field manager owns (what the next
 * render is compared with: a field another writer took over drops out, so the next resync applies it again),
 * and the status fields the controller reads.
 */
export function slimChild(manager: string): CacheTransform {
  return (o) => {
    const full = o as Obj;
    const fields = appliedFieldSet(full.metadata?.managedFields, manager);
    const owned = (fields ? projectFields(full, fields) : {}) as Obj;
    const slim: Obj = {
      ...owned,
      apiVersion: full.apiVersion,
      kind: full.kind,
      metadata: { ...(owned.metadata ?? {}), ...identity(full.metadata ?? {}) },
    };
    if (full.kind === "Deployment") {
      // The replica count the Deployment has now, whoever set it (an autoscaler, when the spec leaves it out).
      if (full.spec?.replicas !== undefined)
        slim.spec = { ...(owned.spec ?? {}), replicas: full.spec.replicas };
      const status = deploymentStatus(full.status);
      if (status) slim.status = status;
    }
    return slim as KubeObject;
  };
}

/** What observeRevision reads of a Deployment's status: replica counts and conditions. */
function deploymentStatus(s: Obj | undefined): Obj | undefined {
  if (!s) return undefined;
  const out: Obj = {};
  for (const k of ["observedGeneration", "replicas", "readyReplicas", "availableReplicas", "updatedReplicas"])
    if (s[k] !== undefined) out[k] = s[k];
  if (s.conditions)
    out.conditions = (s.conditions as Obj[]).map(({ type, status, reason, message }) => ({
      type,
      status,
      reason,
      message,
    }));
  return out;
}

/** A Node: the GPU labels, schedulability, readiness and extended resources (the GPU checks and free GPUs). */
export function slimNode(o: KubeObject): KubeObject {
  const n = o as Obj;
  const extended = (r: Obj | undefined) =>
    r ? Object.fromEntries(Object.entries(r).filter(([k]) => k.includes("/"))) : undefined;
  return {
    apiVersion: n.apiVersion,
    kind: n.kind,
    metadata: identity(n.metadata ?? {}),
    spec: n.spec?.unschedulable ? { unschedulable: true } : {},
    status: {
      allocatable: extended(n.status?.allocatable),
      capacity: extended(n.status?.capacity),
      conditions: ((n.status?.conditions ?? []) as Obj[]).map(({ type, status }) => ({ type, status })),
    },
  } as KubeObject;
}

/** Requests and limits of extended resources (GPUs) only; CPU and memory are never counted. */
function extendedResources(c: Obj): Obj {
  const pick = (r: Obj | undefined) =>
    r ? Object.fromEntries(Object.entries(r).filter(([k]) => k.includes("/"))) : {};
  const requests = pick(c.resources?.requests);
  const limits = pick(c.resources?.limits);
  return {
    ...(c.restartPolicy ? { restartPolicy: c.restartPolicy } : {}),
    ...(Object.keys(requests).length || Object.keys(limits).length
      ? { resources: { requests, limits } }
      : {}),
  };
}

const usesExtendedResources = (pod: Obj) =>
  [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].some((c: Obj) =>
    [...Object.keys(c.resources?.requests ?? {}), ...Object.keys(c.resources?.limits ?? {})].some((k) =>
      k.includes("/"),
    ),
  );

/**
 * A Pod, kept only when it is one of a ModelDeployment's (what its containers say: observeRevision) or uses an
 * extended resource such as a GPU (free GPUs on a node count every namespace's pods). Other pods are dropped.
 */
export function slimPod(isOurs: (o: KubeObject) => boolean): CacheTransform {
  return (o) => {
    const p = o as Obj;
    const ours = isOurs(o);
    if (!ours && !usesExtendedResources(p)) return undefined;
    const terminated = (t: Obj | undefined) =>
      t ? { exitCode: t.exitCode, ...(t.message ? { message: t.message } : {}) } : undefined;
    const container = (cs: Obj) => ({
      name: cs.name,
      restartCount: cs.restartCount,
      state: {
        ...(cs.state?.waiting
          ? { waiting: { reason: cs.state.waiting.reason, message: cs.state.waiting.message } }
          : {}),
        ...(cs.state?.terminated ? { terminated: terminated(cs.state.terminated) } : {}),
      },
      ...(cs.lastState?.terminated ? { lastState: { terminated: terminated(cs.lastState.terminated) } } : {}),
    });
    return {
      apiVersion: p.apiVersion,
      kind: p.kind,
      metadata: identity(p.metadata ?? {}),
      spec: {
        nodeName: p.spec?.nodeName,
        containers: ((p.spec?.containers ?? []) as Obj[]).map(extendedResources),
        initContainers: ((p.spec?.initContainers ?? []) as Obj[]).map(extendedResources),
      },
      status: {
        phase: p.status?.phase,
        ...(p.status?.reason ? { reason: p.status.reason } : {}),
        ...(p.status?.message ? { message: p.status.message } : {}),
        ...(ours
          ? {
              conditions: ((p.status?.conditions ?? []) as Obj[]).map(
                ({ type, status, reason, message }) => ({
                  type,
                  status,
                  reason,
                  message,
                }),
              ),
              initContainerStatuses: ((p.status?.initContainerStatuses ?? []) as Obj[]).map(container),
              containerStatuses: ((p.status?.containerStatuses ?? []) as Obj[]).map(container),
            }
          : {}),
      },
    } as KubeObject;
  };
}
