import type { ModelDeployment } from "../api/v1alpha1/index.js";
import { ports } from "./config.js";
import { commonLabels, labelKeys, labelValue, podSelector } from "./labels.js";
import type { K8sObject } from "./object.js";
import { canonicalJSON, type Revision } from "./revision.js";
import type { PlannedRevision, RevisionRole } from "./plan.js";

export const revisionSpecAnnotation = "modelship.io/revision-spec";

export function deployment(md: ModelDeployment, rev: Revision, planned: PlannedRevision): K8sObject {
  const name = md.metadata.name;
  const tmplMeta = rev.template.metadata ?? {};
  const gpu = (planned.spec.resources.gpu?.count ?? 0) > 0;
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name: rev.deploymentName,
      namespace: md.metadata.namespace,
      labels: {
        ...commonLabels(name, "inference"),
        [labelKeys.revision]: rev.id,
        [labelKeys.modelVersion]: labelValue(planned.spec.model.version),
      },
      // The spec this revision was created from, so it can be rendered again after the spec has moved on.
      annotations: { [revisionSpecAnnotation]: canonicalJSON(planned.spec) },
    },
    spec: {
      replicas: planned.replicas,
      revisionHistoryLimit: 1,
      progressDeadlineSeconds: md.spec.rollout.progressDeadlineSeconds,
      selector: { matchLabels: podSelector(name, rev.id) },
      // GPUs are scarce: replace a GPU pod only after its old one is gone rather than asking for a spare GPU.
      strategy: {
        type: "RollingUpdate",
        rollingUpdate: gpu ? { maxSurge: 0, maxUnavailable: 1 } : { maxSurge: "25%", maxUnavailable: 0 },
      },
      template: {
        ...rev.template,
        metadata: { ...tmplMeta, labels: { ...(tmplMeta.labels ?? {}), [labelKeys.revision]: rev.id } },
      },
    },
  };
}

function service(
  md: ModelDeployment,
  name: string,
  selector: Record<string, string>,
  role: string,
): K8sObject {
  // Only the built-in server speaks gRPC. kubernetes.io/h2c (cleartext HTTP/2) is the standard
  // appProtocol that Gateway API implementations and meshes read to proxy HTTP/2 to the pods.
  const grpc = md.spec.runtime.container
    ? []
    : [
        {
          name: "grpc",
          port: ports.grpc,
          targetPort: "grpc",
          protocol: "TCP",
          appProtocol: "kubernetes.io/h2c",
        },
      ];
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name,
      namespace: md.metadata.namespace,
      labels: { ...commonLabels(md.metadata.name, "inference"), "modelship.io/service-role": role },
    },
    spec: {
      type: "ClusterIP",
      selector,
      ports: [
        { name: "http", port: ports.service, targetPort: "http", protocol: "TCP", appProtocol: "http" },
        ...grpc,
      ],
    },
  };
}

/**
 * Services: `<md>` is the endpoint clients call; `<md>-stable` and `<md>-canary`/`<md>-preview` select one
 * revision each, for routers and for the logger's fallback. With the plain-Service provider the endpoint
 * selects every revision (traffic splits by replica ratio) while the canary has a weight; with a router,
 * for blue-green, or while the canary has no weight (its pods only take shadow copies), only stable.
 * `spec.rollout.blueGreen.previewService: false` leaves out `<md>-preview`.
 */
export function services(
  md: ModelDeployment,
  revs: { role: RevisionRole; id: string }[],
  canaryWeight: number,
): K8sObject[] {
  const name = md.metadata.name;
  const stable = revs.find((r) => r.role === "stable");
  const weighted = canaryWeight > 0 || !revs.some((r) => r.role === "canary");
  const splitByReplicas =
    md.spec.traffic.provider === "service" && md.spec.rollout.strategy !== "blueGreen" && weighted;
  const out = [
    service(
      md,
      name,
      splitByReplicas || !stable ? podSelector(name) : podSelector(name, stable.id),
      "endpoint",
    ),
  ];
  // blueGreen.previewService: false leaves the preview revision without a Service of its own.
  const previewService = md.spec.rollout.blueGreen?.previewService ?? true;
  for (const r of revs)
    if (r.role !== "old" && (r.role !== "preview" || previewService))
      out.push(service(md, `${name}-${r.role}`, podSelector(name, r.id), r.role));
  return out;
}

export function podDisruptionBudget(md: ModelDeployment): K8sObject {
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: {
      name: md.metadata.name,
      namespace: md.metadata.namespace,
      labels: commonLabels(md.metadata.name, "inference"),
    },
    spec: { maxUnavailable: 1, selector: { matchLabels: podSelector(md.metadata.name) } },
  };
}
