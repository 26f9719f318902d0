import type { ModelDeployment } from "../../api/v1alpha1/index.js";
import type { K8sObject } from "../object.js";
import type { HeaderRoute, RenderPlan } from "../plan.js";
import type { RenderConfig } from "../config.js";
import { httpRoute } from "./httproute.js";
import { virtualService } from "./virtualservice.js";

/** What a router actually does with requests: the canary's weight, the A/B header route, the mirror. */
export interface TrafficState {
  canaryWeight: number;
  headerRoute?: HeaderRoute;
  mirror?: { percent: number };
}

export interface Verification {
  ok: boolean;
  message: string;
}

/**
 * One interface per traffic provider (Argo Rollouts' TrafficRoutingReconciler), and `routerFor` the one place
 * that picks it: render() asks it for the route object, the canary's replica maths for `splitsByWeight`.
 * setWeight, setHeaderRoute and setMirror are declarative here: they are fields of the RenderPlan that decide()
 * returns, and `desired` renders the whole route object from it for one server-side apply. `read` and `verify`
 * look at the live object, so the controller (and e2e tests) can check the router really carries the step's
 * traffic before the rollout relies on it.
 */
export interface TrafficRouter {
  provider: "gatewayAPI" | "istio" | "service";
  /** Requests are split by the plan's weights; false: by the ready-pod ratio (the canary's pods are its weight). */
  splitsByWeight: boolean;
  /** The route object for the plan (undefined for the plain Service provider: it has none). */
  desired(md: ModelDeployment, plan: RenderPlan, cfg?: RenderConfig): K8sObject | undefined;
  /** The traffic a live route object carries; for `service`, pass the ready pods of each revision. */
  read(
    live: K8sObject | { readyPods: { stable: number; canary: number } } | undefined,
  ): TrafficState | undefined;
  verify(
    live: K8sObject | { readyPods: { stable: number; canary: number } } | undefined,
    plan: RenderPlan,
  ): Verification;
}

type Obj = Record<string, unknown>;
const arr = (v: unknown): Obj[] => (Array.isArray(v) ? (v as Obj[]) : []);
const obj = (v: unknown): Obj => (v && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : {});

/** Canary weight of a pair of weighted destinations, as a percent of their total. */
function percent(stable: number, canary: number): number {
  const all = stable + canary;
  return all === 0 ? 0 : Math.round((100 * canary) / all);
}

function isCanary(name: unknown): boolean {
  return typeof name === "string" && name.endsWith("-canary");
}

function compare(got: TrafficState | undefined, plan: RenderPlan, what: string): Verification {
  if (!got) return { ok: false, message: `${what} not found` };
  const hasCanary = plan.revisions.some((r) => r.role === "canary");
  const want: TrafficState = {
    canaryWeight: hasCanary ? plan.weights.canary : 0,
    ...(hasCanary && plan.headerRoute ? { headerRoute: plan.headerRoute } : {}),
    ...(hasCanary && plan.mirror ? { mirror: plan.mirror } : {}),
  };
  const problems: string[] = [];
  if (got.canaryWeight !== want.canaryWeight)
    problems.push(`canary weight ${got.canaryWeight}%, want ${want.canaryWeight}%`);
  if (JSON.stringify(got.headerRoute ?? null) !== JSON.stringify(want.headerRoute ?? null)) {
    problems.push(
      `header route ${JSON.stringify(got.headerRoute ?? null)}, want ${JSON.stringify(want.headerRoute ?? null)}`,
    );
  }
  if ((got.mirror?.percent ?? 0) !== (want.mirror?.percent ?? 0)) {
    problems.push(`mirror ${got.mirror?.percent ?? 0}%, want ${want.mirror?.percent ?? 0}%`);
  }
  return problems.length
    ? { ok: false, message: `${what}: ${problems.join("; ")}` }
    : { ok: true, message: `${what} carries canary ${want.canaryWeight}%` };
}

/** Gateway API: weighted backendRefs of the catch-all rule, a header-matched rule, a RequestMirror filter. */
export const gatewayAPIRouter: TrafficRouter = {
  provider: "gatewayAPI",
  splitsByWeight: true,
  desired: httpRoute,
  read(live) {
    if (!live || !("kind" in live) || live.kind !== "HTTPRoute") return undefined;
    const rules = arr(obj(live.spec).rules);
    const state: TrafficState = { canaryWeight: 0 };
    for (const rule of rules) {
      const matches = arr(rule.matches);
      const refs = arr(rule.backendRefs);
      const headers = matches.flatMap((m) => arr(m.headers));
      if (headers.length && refs.every((r) => isCanary(r.name))) {
        state.headerRoute = {
          match: headers.map((h) => ({
            name: String(h.name),
            value: String(h.value),
            type: h.type === "RegularExpression" ? "RegularExpression" : "Exact",
          })),
        };
        continue;
      }
      const weightOf = (pred: (n: unknown) => boolean) =>
        refs
          .filter((r) => pred(r.name))
          .reduce((s, r) => s + (typeof r.weight === "number" ? r.weight : 1), 0);
      state.canaryWeight = percent(
        weightOf((n) => !isCanary(n)),
        weightOf(isCanary),
      );
      for (const f of arr(rule.filters)) {
        const m = obj(f.requestMirror);
        if (f.type === "RequestMirror" && isCanary(obj(m.backendRef).name)) {
          state.mirror = { percent: typeof m.percent === "number" ? m.percent : 100 };
        }
      }
    }
    return state;
  },
  verify(live, plan) {
    return compare(this.read(live), plan, "HTTPRoute");
  },
};

/** Istio: weighted destinations of the primary route, a header-matched route, mirror + mirrorPercentage. */
export const istioRouter: TrafficRouter = {
  provider: "istio",
  splitsByWeight: true,
  desired: virtualService,
  read(live) {
    if (!live || !("kind" in live) || live.kind !== "VirtualService") return undefined;
    const state: TrafficState = { canaryWeight: 0 };
    for (const h of arr(obj(live.spec).http)) {
      const routes = arr(h.route);
      const hostOf = (r: Obj) => obj(r.destination).host;
      const headerMatch = arr(h.match).map((m) => obj(m.headers));
      if (headerMatch.length && routes.every((r) => isCanary(hostOf(r)))) {
        state.headerRoute = {
          match: Object.entries(headerMatch[0]!).map(([name, v]) => {
            const m = obj(v);
            return m.exact !== undefined
              ? { name, value: String(m.exact), type: "Exact" as const }
              : { name, value: String(m.regex), type: "RegularExpression" as const };
          }),
        };
        continue;
      }
      const weightOf = (pred: (n: unknown) => boolean) =>
        routes
          .filter((r) => pred(hostOf(r)))
          .reduce((s, r) => s + (typeof r.weight === "number" ? r.weight : 100), 0);
      state.canaryWeight = percent(
        weightOf((n) => !isCanary(n)),
        weightOf(isCanary),
      );
      if (h.mirror && isCanary(obj(h.mirror).host)) {
        const p = obj(h.mirrorPercentage).value;
        state.mirror = { percent: typeof p === "number" ? p : 100 };
      }
    }
    return state;
  },
  verify(live, plan) {
    return compare(this.read(live), plan, "VirtualService");
  },
};

/**
 * No mesh: the <name> Service selects every revision's pods and kube-proxy spreads connections over the
 * ready ones, so the weight is the ready-pod ratio (granularity about 100/N percent; per connection, so
 * long-lived keep-alive clients stick to one pod). No header route, no mirror.
 */
export const serviceRouter: TrafficRouter = {
  provider: "service",
  splitsByWeight: false,
  desired: () => undefined,
  read(live) {
    if (!live || !("readyPods" in live)) return undefined;
    const pods = live.readyPods as { stable: number; canary: number };
    return { canaryWeight: percent(pods.stable, pods.canary) };
  },
  verify(live, plan) {
    const got = this.read(live);
    if (!got) return { ok: false, message: "ready pod counts not given" };
    const want = plan.revisions.some((r) => r.role === "canary") ? plan.weights.canary : 0;
    return got.canaryWeight === want
      ? { ok: true, message: `ready pods give the canary ${want}%` }
      : { ok: false, message: `ready pods give the canary ${got.canaryWeight}%, want ${want}%` };
  },
};

/** What the router is asked to carry: the plan, less the mirror when the data plane copies (spec.traffic.mirror). */
export function routerPlan(md: ModelDeployment, plan: RenderPlan): RenderPlan {
  if (plan.mirror === undefined || md.spec.traffic.mirror === "router") return plan;
  const { mirror: _dataPlane, ...rest } = plan;
  return rest;
}

export function routerFor(md: ModelDeployment): TrafficRouter {
  switch (md.spec.traffic.provider) {
    case "gatewayAPI":
      return gatewayAPIRouter;
    case "istio":
      return istioRouter;
    default:
      return serviceRouter;
  }
}
