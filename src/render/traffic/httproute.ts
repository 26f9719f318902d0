import type { ModelDeployment } from "../../api/v1alpha1/index.js";
import { usesHttpAddOn } from "../autoscaler.js";
import { defaultRenderConfig, ports, serviceRef, type RenderConfig } from "../config.js";
import { commonLabels } from "../labels.js";
import type { K8sObject } from "../object.js";
import type { RenderPlan } from "../plan.js";

/**
 * Gateway API HTTPRoute: weighted backendRefs, a header-matched rule for A/B, a RequestMirror filter for shadow.
 * A model that scales to zero through KEDA's HTTP add-on is routed to the add-on's interceptor instead, with
 * the Host rewritten to the model's cluster name (one of its HTTPScaledObject's hosts), so a request through
 * the Gateway is held while a pod starts. The interceptor's namespace must grant the route the reference
 * (a ReferenceGrant; docs/autoscaling.md).
 */
export function httpRoute(
  md: ModelDeployment,
  plan: RenderPlan,
  cfg: RenderConfig = defaultRenderConfig,
): K8sObject {
  const name = md.metadata.name;
  if (usesHttpAddOn(md)) return interceptorRoute(md, cfg);
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
  return route(md, rules);
}

/** The HTTPRoute of a ModelDeployment: its name, the user's parentRefs and hostnames, and these rules. */
function route(md: ModelDeployment, rules: Record<string, unknown>[]): K8sObject {
  const name = md.metadata.name;
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

function interceptorRoute(md: ModelDeployment, cfg: RenderConfig): K8sObject {
  const name = md.metadata.name;
  const interceptor = serviceRef(cfg.kedaInterceptor);
  return route(md, [
    {
      filters: [
        {
          type: "URLRewrite",
          urlRewrite: { hostname: `${name}.${md.metadata.namespace ?? "default"}` },
        },
      ],
      backendRefs: [{ group: "", kind: "Service", ...interceptor, weight: 100 }],
    },
  ]);
}
