import type { ModelDeployment } from "../../api/v1alpha1/index.js";
import { ports } from "../config.js";
import { commonLabels } from "../labels.js";
import type { K8sObject } from "../object.js";
import type { RenderPlan } from "../plan.js";

/** Gateway API HTTPRoute: weighted backendRefs, a header-matched rule for A/B, a RequestMirror filter for shadow. */
export function httpRoute(md: ModelDeployment, plan: RenderPlan): K8sObject {
  const name = md.metadata.name;
  const hasCanary = plan.revisions.some((r) => r.role === "canary");
  const ref = (role: string, weight?: number) => ({
    name: `${name}-${role}`,
    port: ports.service,
    ...(weight !== undefined ? { weight } : {}),
  });
  const rules: Record<string, unknown>[] = [];
  if (hasCanary && plan.headerRoute) {
    rules.push({
      matches: [
        {
          headers: plan.headerRoute.match.map((m) => ({ name: m.name, value: m.value, type: m.type })),
        },
      ],
      backendRefs: [ref("canary")],
    });
  }
  const backendRefs = hasCanary
    ? [ref("stable", plan.weights.stable), ref("canary", plan.weights.canary)]
    : [ref("stable", 100)];
  rules.push({
    backendRefs,
    ...(hasCanary && plan.mirror
      ? {
          filters: [
            {
              type: "RequestMirror",
              requestMirror: { backendRef: ref("canary"), percent: plan.mirror.percent },
            },
          ],
        }
      : {}),
  });
  return {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    metadata: { name, namespace: md.metadata.namespace, labels: commonLabels(name, "traffic") },
    spec: {
      parentRefs: md.spec.traffic.parentRefs ?? [],
      ...(md.spec.traffic.hostnames ? { hostnames: md.spec.traffic.hostnames } : {}),
      rules,
    },
  };
}
