import type { ModelDeployment } from "../../api/v1alpha1/index.js";
import { ports } from "../config.js";
import { commonLabels } from "../labels.js";
import type { K8sObject } from "../object.js";
import type { RenderPlan } from "../plan.js";

/** Istio VirtualService: weighted destinations, header match for A/B, mirror + mirrorPercentage for shadow. */
export function virtualService(md: ModelDeployment, plan: RenderPlan): K8sObject {
  const name = md.metadata.name;
  const hasCanary = plan.revisions.some((r) => r.role === "canary");
  const dest = (role: string, weight?: number) => ({
    destination: { host: `${name}-${role}`, port: { number: ports.service } },
    ...(weight !== undefined ? { weight } : {}),
  });
  const http: Record<string, unknown>[] = [];
  if (hasCanary && plan.headerRoute) {
    http.push({
      name: "header-route",
      match: [
        {
          headers: Object.fromEntries(
            plan.headerRoute.match.map((m) => [
              m.name,
              m.type === "Exact" ? { exact: m.value } : { regex: m.value },
            ]),
          ),
        },
      ],
      route: [dest("canary")],
    });
  }
  http.push({
    name: "primary",
    route: hasCanary
      ? [dest("stable", plan.weights.stable), dest("canary", plan.weights.canary)]
      : [dest("stable", 100)],
    ...(hasCanary && plan.mirror
      ? {
          mirror: { host: `${name}-canary`, port: { number: ports.service } },
          mirrorPercentage: { value: plan.mirror.percent },
        }
      : {}),
  });
  return {
    apiVersion: "networking.istio.io/v1",
    kind: "VirtualService",
    metadata: { name, namespace: md.metadata.namespace, labels: commonLabels(name, "traffic") },
    spec: {
      hosts: md.spec.traffic.hostnames ?? [name],
      ...(md.spec.traffic.gateways ? { gateways: md.spec.traffic.gateways } : {}),
      http,
    },
  };
}
