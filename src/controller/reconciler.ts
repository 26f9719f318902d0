import type { Logger } from "pino";
import { Counter, Histogram, type Registry } from "prom-client";
import {
  apiVersion,
  formatErrors,
  kind,
  parseModelDeployment,
  type Condition,
  type ModelDeployment,
} from "../api/v1alpha1/index.js";
import type { KubeClient, KubeObject } from "../k8s/client.js";
import { isNamespaceTerminating, isNotFound, isRejectedObject } from "../k8s/errors.js";
import type { Cache } from "../k8s/informer.js";
import { apiVersionOf, resourcePath, resourceTypes, typeOf, type ResourceType } from "../k8s/resources.js";
import { isApplied, withAppliedHash } from "../k8s/applied.js";
import { isSubset } from "../k8s/subset.js";
import type { RenderConfig } from "../render/config.js";
import type { K8sObject } from "../render/object.js";
import type { PrometheusClient } from "../analysis/prometheus.js";
import { mergeConditions, Reasons, type ConditionInput } from "./conditions.js";
import type { EventRecorder } from "./events.js";
import { planReconcile, toPrune } from "./plan.js";
import { gather } from "./snapshot.js";
import { controllerConditionTypes, desiredStatus, jobOwnedStatusFields } from "./status.js";

export const fieldManager = "modelship-controller";

export interface ReconcileResult {
  requeueAfterMs?: number;
}

export interface ReconcilerDeps {
  client: KubeClient;
  informers: Map<string, Cache>;
  /** Kinds whose CRDs are installed (optional kinds are skipped otherwise). */
  availableKinds: () => Set<string>;
  renderConfig: RenderConfig;
  events: EventRecorder;
  log: Logger;
  registry: Registry;
  /** Where canary analysis reads metrics; without it analysis steps pause as inconclusive. */
  prometheus?: PrometheusClient;
  now?: () => Date;
}

/** A spec-level problem re-checked slowly: the user must change something (or create the PVC) first. */
const problemRetryMs = 60_000;

/**
 * Reconcile(key): gather one snapshot (src/controller/snapshot.ts) -> plan, pure (src/controller/plan.ts:
 * environment checks, the rollout decision, rendering, what to prune) -> apply what differs -> prune ->
 * write status if it changed. Level-based and idempotent.
 */
export class Reconciler {
  readonly writes: Counter<"kind" | "verb">;
  private readonly duration: Histogram<"result">;
  private readonly now: () => Date;

  constructor(private readonly d: ReconcilerDeps) {
    this.now = d.now ?? (() => new Date());
    this.writes = new Counter({
      name: "modelship_controller_writes_total",
      help: "Write calls made by reconciles, by kind and verb (a steady state makes none)",
      labelNames: ["kind", "verb"] as const,
      registers: [d.registry],
    });
    this.duration = new Histogram({
      name: "modelship_reconcile_duration_seconds",
      help: "Time spent in one reconcile, by result",
      labelNames: ["result"] as const,
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10],
      registers: [d.registry],
    });
  }

  private informer(t: ResourceType): Cache | undefined {
    return this.d.informers.get(t.kind);
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const end = this.duration.startTimer();
    try {
      const r = await this.reconcileKey(key);
      end({ result: r.requeueAfterMs ? "requeue" : "success" });
      return r;
    } catch (err) {
      if (isNamespaceTerminating(err)) {
        // The namespace (and the ModelDeployment with it) is going away: retrying cannot help.
        end({ result: "namespace_terminating" });
        this.d.log.info({ key }, "Namespace is being deleted; not reconciling");
        return {};
      }
      end({ result: "error" });
      throw err;
    }
  }

  private async reconcileKey(key: string): Promise<ReconcileResult> {
    const [namespace, name] = key.split("/") as [string, string];
    const raw = this.informer(resourceTypes.ModelDeployment)?.get(namespace, name);
    if (!raw || raw.metadata?.deletionTimestamp) return {}; // children go with it (owner references + GC)
    const log = this.d.log.child({ kind, namespace, name });
    const parsed = parseModelDeployment(raw);
    if (!parsed.ok) {
      // The API server's schema and CEL rules should make this impossible; if it happens, say so and wait.
      const message = formatErrors(parsed.errors);
      log.warn({ errors: parsed.errors }, "ModelDeployment is invalid");
      await this.writeStatusIfChanged(
        raw,
        {
          ...((raw.status as object) ?? {}),
          observedGeneration: raw.metadata?.generation,
          phase: "Degraded",
          message,
        },
        [
          { type: "Degraded", status: "True", reason: Reasons.InvalidSpec, message },
          // kstatus: it cannot progress until the spec is fixed
          { type: "Stalled", status: "True", reason: Reasons.InvalidSpec, message },
          { type: "Reconciling", status: "False", reason: Reasons.InvalidSpec, message },
          { type: "Ready", status: "False", reason: Reasons.InvalidSpec, message },
        ],
      );
      return { requeueAfterMs: problemRetryMs };
    }
    const md = parsed.value;
    const now = this.now();
    const cfg = this.d.renderConfig;

    const snapshot = await gather(
      {
        client: this.d.client,
        caches: this.d.informers,
        availableKinds: this.d.availableKinds,
        log,
        ...(this.d.prometheus ? { prometheus: this.d.prometheus } : {}),
      },
      raw,
      md,
      now,
      log,
    );
    const { observed, problems, decision, objects, revisions } = planReconcile(snapshot, cfg, now);

    // Never half-apply: a spec-level problem stops before the first write.
    if (problems.length === 0) {
      try {
        await this.applyAll(md, objects, log);
      } catch (err) {
        if (!isRejectedObject(err)) throw err;
        // A rendered object the API server refuses: say so in status, retry slowly, never prune then.
        problems.push({
          reason: Reasons.ApplyFailed,
          message: `the API server refused an object rendered from the spec: ${(err as Error).message}`,
        });
      }
      if (problems.length === 0) await this.prune(toPrune(snapshot, objects, decision), log);
    }

    // Status.
    const status = desiredStatus({
      md,
      decision: problems.length ? undefined : decision,
      rendered: revisions,
      observed,
      problems,
      clusterDomain: cfg.clusterDomain,
      kedaInterceptor: cfg.kedaInterceptor,
      ...(snapshot.gateway ? { gateway: snapshot.gateway } : {}),
      now: now.toISOString(),
    });
    const changed = await this.writeStatusIfChanged(raw, status);
    if (changed) await this.recordTransitions(raw, md, status.conditions ?? []);
    for (const e of problems.length ? [] : decision.events)
      await this.d.events.record(raw, e.type, e.reason, e.message);
    if (problems.length > 0) {
      for (const p of problems) await this.d.events.record(raw, "Warning", p.reason, p.message);
      return { requeueAfterMs: problemRetryMs };
    }
    return decision.requeueAfterMs ? { requeueAfterMs: decision.requeueAfterMs } : {};
  }

  private withOwner(md: ModelDeployment, o: K8sObject): K8sObject {
    return {
      ...o,
      metadata: {
        ...o.metadata,
        ownerReferences: [
          {
            apiVersion,
            kind,
            name: md.metadata.name,
            uid: md.metadata.uid,
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
    };
  }

  private async applyAll(md: ModelDeployment, objects: K8sObject[], log: Logger): Promise<void> {
    const applyOne = async (o: K8sObject) => {
      const t = typeOf(o.apiVersion ?? "", o.kind ?? "");
      if (!t) throw new Error(`renderer produced an unknown kind ${o.apiVersion}/${o.kind}`);
      const desired = withAppliedHash(this.withOwner(md, o));
      const live = this.informer(t)?.get(o.metadata?.namespace, o.metadata?.name ?? "");
      if (live && isApplied(desired, live)) return;
      await this.d.client.apply(
        resourcePath(t, o.metadata?.namespace, o.metadata?.name),
        desired,
        fieldManager,
      );
      this.writes.inc({ kind: t.kind, verb: "apply" });
      log.info({ child: `${t.kind}/${o.metadata?.name}` }, live ? `Updated ${t.kind}` : `Created ${t.kind}`);
    };
    // RBAC and the collector token first (the pods need them to start), then everything else at once:
    // the calls are independent.
    const first = new Set(["ServiceAccount", "Role", "RoleBinding", "Secret"]);
    for (const o of objects.filter((x) => first.has(x.kind ?? ""))) await applyOne(o);
    const results = await Promise.allSettled(objects.filter((x) => !first.has(x.kind ?? "")).map(applyOne));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  }

  private async prune(doomed: KubeObject[], log: Logger): Promise<void> {
    for (const o of doomed) {
      const t = Object.values(resourceTypes).find((x) => x.kind === o.kind);
      if (!t) continue;
      try {
        await this.d.client.delete(resourcePath(t, o.metadata?.namespace, o.metadata?.name));
        this.writes.inc({ kind: t.kind, verb: "delete" });
        log.info({ child: `${t.kind}/${o.metadata?.name}` }, `Deleted ${t.kind}`);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
  }

  /** Server-side apply of the fields this controller owns in status, only when they changed. */
  private async writeStatusIfChanged(
    raw: KubeObject,
    status: Record<string, unknown>,
    extraConditions?: ConditionInput[],
  ): Promise<boolean> {
    const current = (raw.status ?? {}) as Record<string, unknown>;
    let next = status;
    if (extraConditions) {
      // lastTransitionTime moves only on a flip; observedGeneration on each condition, as kstatus reads it
      next = {
        ...status,
        conditions: mergeConditions(
          (current.conditions as Condition[]) ?? [],
          extraConditions,
          this.now().toISOString(),
          raw.metadata?.generation,
        ),
      };
    }
    if (sameStatus(current, next)) return false;
    const owned = {
      ...next,
      conditions: ((next.conditions as { type: string }[]) ?? []).filter((c) =>
        controllerConditionTypes.has(c.type),
      ),
    };
    for (const f of jobOwnedStatusFields) delete (owned as Record<string, unknown>)[f];
    await this.d.client.apply(
      resourcePath(resourceTypes.ModelDeployment, raw.metadata?.namespace, raw.metadata?.name, "status"),
      {
        apiVersion: apiVersionOf(resourceTypes.ModelDeployment),
        kind,
        metadata: { name: raw.metadata?.name, namespace: raw.metadata?.namespace },
        status: owned,
      },
      fieldManager,
    );
    this.writes.inc({ kind: "ModelDeployment", verb: "status" });
    return true;
  }

  private async recordTransitions(
    raw: KubeObject,
    md: ModelDeployment,
    conditions: { type: string; status: string; reason: string; message: string }[],
  ): Promise<void> {
    const before = new Map(
      ((md.status?.conditions ?? []) as { type: string; status: string }[]).map((c) => [c.type, c.status]),
    );
    for (const c of conditions) {
      if (!controllerConditionTypes.has(c.type) || before.get(c.type) === c.status) continue;
      if (c.type === "Ready" && c.status === "True")
        await this.d.events.record(raw, "Normal", "Ready", c.message);
      // A rollout starting is expected (the rollout sends its own Normal Events); anything else is a warning.
      if (
        c.type === "Ready" &&
        c.status === "False" &&
        before.has("Ready") &&
        c.reason !== Reasons.RolloutInProgress
      )
        await this.d.events.record(raw, "Warning", c.reason, c.message);
      if (c.type === "Degraded" && c.status === "True")
        await this.d.events.record(raw, "Warning", c.reason, c.message);
    }
  }
}

/** Status equality ignoring key order and fields we do not write. */
export function sameStatus(current: Record<string, unknown>, next: Record<string, unknown>): boolean {
  const norm = (s: Record<string, unknown>) => {
    const rest = { ...s };
    for (const f of jobOwnedStatusFields) delete rest[f];
    const conds = ((rest.conditions as { type: string }[]) ?? [])
      .filter((c) => controllerConditionTypes.has(c.type))
      .sort((a, b) => a.type.localeCompare(b.type));
    return { ...rest, conditions: conds };
  };
  return isSubset(norm(next), norm(current)) && isSubset(norm(current), norm(next));
}
