/** The kinds the controller reads and writes, with their REST coordinates. */
export interface ResourceType {
  kind: string;
  group: string;
  version: string;
  plural: string;
  namespaced: boolean;
  /** Only watched/applied when its CRD is installed (Gateway API, Istio, KEDA). */
  optional?: boolean;
}

export const resourceTypes = {
  ModelDeployment: {
    kind: "ModelDeployment",
    group: "modelship.io",
    version: "v1alpha1",
    plural: "modeldeployments",
    namespaced: true,
  },
  Deployment: { kind: "Deployment", group: "apps", version: "v1", plural: "deployments", namespaced: true },
  Service: { kind: "Service", group: "", version: "v1", plural: "services", namespaced: true },
  ConfigMap: { kind: "ConfigMap", group: "", version: "v1", plural: "configmaps", namespaced: true },
  Secret: { kind: "Secret", group: "", version: "v1", plural: "secrets", namespaced: true },
  HorizontalPodAutoscaler: {
    kind: "HorizontalPodAutoscaler",
    group: "autoscaling",
    version: "v2",
    plural: "horizontalpodautoscalers",
    namespaced: true,
  },
  PodDisruptionBudget: {
    kind: "PodDisruptionBudget",
    group: "policy",
    version: "v1",
    plural: "poddisruptionbudgets",
    namespaced: true,
  },
  CronJob: { kind: "CronJob", group: "batch", version: "v1", plural: "cronjobs", namespaced: true },
  /** The rollout's load-test runs (the CronJobs' own Jobs carry no owner labels and are not watched). */
  Job: { kind: "Job", group: "batch", version: "v1", plural: "jobs", namespaced: true },
  ServiceAccount: {
    kind: "ServiceAccount",
    group: "",
    version: "v1",
    plural: "serviceaccounts",
    namespaced: true,
  },
  Role: {
    kind: "Role",
    group: "rbac.authorization.k8s.io",
    version: "v1",
    plural: "roles",
    namespaced: true,
  },
  RoleBinding: {
    kind: "RoleBinding",
    group: "rbac.authorization.k8s.io",
    version: "v1",
    plural: "rolebindings",
    namespaced: true,
  },
  HTTPRoute: {
    kind: "HTTPRoute",
    group: "gateway.networking.k8s.io",
    version: "v1",
    plural: "httproutes",
    namespaced: true,
    optional: true,
  },
  /** Read only: the address status.endpoint names (the cluster's Gateway, not ours). */
  Gateway: {
    kind: "Gateway",
    group: "gateway.networking.k8s.io",
    version: "v1",
    plural: "gateways",
    namespaced: true,
    optional: true,
  },
  VirtualService: {
    kind: "VirtualService",
    group: "networking.istio.io",
    version: "v1",
    plural: "virtualservices",
    namespaced: true,
    optional: true,
  },
  ScaledObject: {
    kind: "ScaledObject",
    group: "keda.sh",
    version: "v1alpha1",
    plural: "scaledobjects",
    namespaced: true,
    optional: true,
  },
  /** Scale to zero with activation: KEDA's HTTP add-on. */
  HTTPScaledObject: {
    kind: "HTTPScaledObject",
    group: "http.keda.sh",
    version: "v1alpha1",
    plural: "httpscaledobjects",
    namespaced: true,
    optional: true,
  },
  Pod: { kind: "Pod", group: "", version: "v1", plural: "pods", namespaced: true },
  Node: { kind: "Node", group: "", version: "v1", plural: "nodes", namespaced: false },
  PersistentVolumeClaim: {
    kind: "PersistentVolumeClaim",
    group: "",
    version: "v1",
    plural: "persistentvolumeclaims",
    namespaced: true,
  },
  Event: { kind: "Event", group: "", version: "v1", plural: "events", namespaced: true },
  Lease: { kind: "Lease", group: "coordination.k8s.io", version: "v1", plural: "leases", namespaced: true },
} satisfies Record<string, ResourceType>;

/** The child kinds a ModelDeployment owns, in apply order (RBAC before the CronJob that uses it). */
export const childKinds: ResourceType[] = [
  resourceTypes.ServiceAccount,
  resourceTypes.Role,
  resourceTypes.RoleBinding,
  resourceTypes.ConfigMap,
  resourceTypes.Secret,
  resourceTypes.Deployment,
  resourceTypes.Service,
  resourceTypes.HorizontalPodAutoscaler,
  resourceTypes.ScaledObject,
  resourceTypes.HTTPScaledObject,
  resourceTypes.PodDisruptionBudget,
  resourceTypes.HTTPRoute,
  resourceTypes.VirtualService,
  resourceTypes.CronJob,
  resourceTypes.Job,
];

export function apiVersionOf(t: ResourceType): string {
  return t.group ? `${t.group}/${t.version}` : t.version;
}

export function typeOf(apiVersion: string, kind: string): ResourceType | undefined {
  return Object.values(resourceTypes).find((t) => t.kind === kind && apiVersionOf(t) === apiVersion);
}

/** REST path of a collection or an object: /api/v1/namespaces/ns/services[/name][/sub]. */
export function resourcePath(t: ResourceType, namespace?: string, name?: string, sub?: string): string {
  const base = t.group ? `/apis/${t.group}/${t.version}` : `/api/${t.version}`;
  const ns = t.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : "";
  return `${base}${ns}/${t.plural}${name ? `/${encodeURIComponent(name)}` : ""}${sub ? `/${sub}` : ""}`;
}
