import { hostname } from "node:os";
import type { Logger } from "pino";
import { Counter, Gauge, type Registry } from "prom-client";
import { PrometheusClient } from "../analysis/prometheus.js";
import type { KubeClient, KubeObject } from "../k8s/client.js";
import { CacheSet, Informer } from "../k8s/informer.js";
import { slimChild, slimModelDeployment, slimNode, slimPod, type CacheTransform } from "../k8s/slim.js";
import { childKinds, resourceTypes, type ResourceType } from "../k8s/resources.js";
import type { EventsArchive } from "../render/events-archive.js";
import { labelKeys, managedBy } from "../render/labels.js";
import { startOpsServer, type OpsServer } from "../platform/ops-server.js";
import type { ControllerConfig } from "./config.js";
import { EventRecorder } from "./events.js";
import { LeaderElector } from "./leader.js";
import { fieldManager, Reconciler } from "./reconciler.js";
import { WorkQueue } from "./workqueue.js";

const ownedSelector = `${labelKeys.managedBy}=${managedBy}`;

/** Kinds only some features need: a refused cache of one does not keep the controller unready. */
const featureKinds = new Set([resourceTypes.Pod.kind, resourceTypes.Job.kind]);

export interface ManagerDeps {
  config: ControllerConfig;
  client: KubeClient;
  log: Logger;
  registry: Registry;
  /** The collector's bearer token (from --collector-token-file), copied beside every model that uses it. */
  collectorToken?: string;
  /** The collectors' shared archive (--events-archive) and its credentials, read by drift jobs. */
  eventsArchive?: EventsArchive;
}

/**
 * Wires informers -> work queue -> workers running the Reconciler, behind leader election, with
 * /metrics, /healthz and /readyz. Watch handlers only enqueue keys.
 */
export class Manager {
  private readonly queue: WorkQueue;
  private readonly caches = new Map<string, CacheSet>();
  private readonly available = new Set<string>();
  private readonly reconciler: Reconciler;
  private readonly leader?: LeaderElector;
  private ops?: OpsServer;
  private workers: Promise<void>[] = [];
  private discoveryTimer?: NodeJS.Timeout;
  private readonly reconciles: Counter<"result">;
  private readonly watchRestarts: Counter<"kind" | "reason">;

  constructor(private readonly d: ManagerDeps) {
    const { registry, config } = d;
    this.queue = new WorkQueue({ baseDelayMs: 1000, maxDelayMs: 5 * 60_000, registry });
    this.reconciles = new Counter({
      name: "modelship_reconciles_total",
      help: "Reconciles by result",
      labelNames: ["result"] as const,
      registers: [registry],
    });
    this.watchRestarts = new Counter({
      name: "modelship_watch_restarts_total",
      help: "Watch restarts by kind and reason",
      labelNames: ["kind", "reason"] as const,
      registers: [registry],
    });
    new Gauge({
      name: "modelship_informer_cached_objects",
      help: "Objects held in informer caches, by kind",
      labelNames: ["kind"] as const,
      registers: [registry],
      collect: function (this: Gauge<"kind">) {
        for (const [k, c] of caches) this.set({ kind: k }, c.size);
      },
    });
    new Gauge({
      name: "modelship_informer_cached_json_bytes",
      help: "Size as JSON of the objects held in informer caches, by kind (a proxy for their memory)",
      labelNames: ["kind"] as const,
      registers: [registry],
      collect: function (this: Gauge<"kind">) {
        for (const [k, c] of caches) this.set({ kind: k }, c.jsonBytes);
      },
    });
    const caches = this.caches;
    this.reconciler = new Reconciler({
      client: d.client,
      informers: this.caches,
      availableKinds: () => this.available,
      renderConfig: {
        image: config.image,
        imagePullPolicy: "IfNotPresent",
        defaultSink: config.defaultSink,
        eventsUrl: config.eventsUrl,
        clusterDomain: config.clusterDomain,
        kedaInterceptor: config.kedaInterceptor,
        ...(config.pushgatewayUrl ? { pushgatewayUrl: config.pushgatewayUrl } : {}),
        ...(d.collectorToken !== undefined ? { collectorToken: d.collectorToken } : {}),
        ...(d.eventsArchive !== undefined ? { eventsArchive: d.eventsArchive } : {}),
      },
      events: new EventRecorder(d.client, d.log),
      log: d.log,
      registry,
      ...(config.prometheusUrl ? { prometheus: new PrometheusClient({ url: config.prometheusUrl }) } : {}),
    });
    if (config.leaderElect) {
      this.leader = new LeaderElector({
        client: d.client,
        namespace: config.leaderElectionNamespace,
        name: config.leaderElectionId,
        identity: `${hostname()}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`,
        log: d.log,
        leaseDurationMs: 15_000,
        renewDeadlineMs: 10_000,
        retryPeriodMs: 2_000,
      });
    }
  }

  get writeCounter(): Counter<"kind" | "verb"> {
    return this.reconciler.writes;
  }

  private ownerKey(o: KubeObject): string | undefined {
    if (o.kind === resourceTypes.ModelDeployment.kind) return `${o.metadata?.namespace}/${o.metadata?.name}`;
    const owner = (o.metadata?.ownerReferences ?? []).find(
      (r) => r.kind === resourceTypes.ModelDeployment.kind && r.controller,
    );
    return owner ? `${o.metadata?.namespace}/${owner.name}` : undefined;
  }

  /** A Pod's ModelDeployment, by its label (a pod's owner is a ReplicaSet). */
  private podOwnerKey(o: KubeObject): string | undefined {
    const md = o.metadata?.labels?.[labelKeys.deployment];
    return md && o.metadata?.labels?.[labelKeys.managedBy] === managedBy
      ? `${o.metadata?.namespace}/${md}`
      : undefined;
  }

  private startInformers(
    t: ResourceType,
    transform: CacheTransform,
    { labelSelector, allNamespaces = false }: { labelSelector?: string; allNamespaces?: boolean } = {},
  ): void {
    const namespaces =
      t.namespaced && !allNamespaces && this.d.config.namespaces.length
        ? this.d.config.namespaces
        : [undefined];
    const members = namespaces.map(
      (ns) =>
        new Informer({
          client: this.d.client,
          type: t,
          ...(ns ? { namespace: ns } : {}),
          ...(labelSelector ? { labelSelector } : {}),
          log: this.d.log,
          transform,
          resyncMs: this.d.config.resyncSeconds * 1000,
          onEvent: (o, type) => {
            if (t.kind === "Node") return;
            if (t.kind === "Pod") {
              const key = type === "RESYNC" ? undefined : this.podOwnerKey(o);
              if (key) this.queue.add(key);
              return;
            }
            // A resync re-enqueues each ModelDeployment once; its children's resyncs would only repeat it
            // (a reconcile reads all its children anyway).
            if (type === "RESYNC" && t.kind !== resourceTypes.ModelDeployment.kind) return;
            const key = this.ownerKey(o);
            if (key) this.queue.add(key);
          },
          onRestart: (reason) => this.watchRestarts.inc({ kind: t.kind, reason }),
        }),
    );
    this.caches.set(t.kind, new CacheSet(members));
    for (const m of members) m.start();
  }

  /** Finds which optional kinds (Gateway API, Istio, KEDA) are served, and starts their informers. */
  private async discover(): Promise<void> {
    for (const t of childKinds.filter((k) => k.optional)) {
      if (this.available.has(t.kind)) continue;
      try {
        const list = await this.d.client.get<{ resources?: { name: string }[] }>(
          `/apis/${t.group}/${t.version}`,
        );
        if ((list.resources ?? []).some((r) => r.name === t.plural)) {
          this.available.add(t.kind);
          this.startInformers(t, slimChild(fieldManager), { labelSelector: ownedSelector });
          this.d.log.info({ kind: t.kind }, "Discovered optional kind, watching it");
        }
      } catch {
        /* not installed (404) or not reachable now: try again on the next round */
      }
    }
  }

  private async worker(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      try {
        const r = await this.reconciler.reconcile(key);
        this.queue.forget(key);
        this.reconciles.inc({ result: r.requeueAfterMs ? "requeue" : "success" });
        if (r.requeueAfterMs) this.queue.addAfter(key, r.requeueAfterMs);
      } catch (err) {
        const delay = this.queue.addRateLimited(key);
        this.reconciles.inc({ result: "error" });
        const [namespace, name] = key.split("/");
        this.d.log.error(
          { kind: "ModelDeployment", namespace, name, err: (err as Error).message, retryInMs: delay },
          "Reconcile failed",
        );
      } finally {
        this.queue.done(key);
      }
    }
  }

  /**
   * Every cache has listed once, or is refused and only some features need it: an older chart's RBAC (the
   * new image under the previous chart, mid-upgrade) may grant pods `list` only and no Jobs. Reconciles then
   * list the pods they need (src/controller/snapshot.ts); a loadTest step's Job fails to apply, and says so.
   */
  private synced(): boolean {
    return [...this.caches.entries()].every(
      ([kind, c]) => c.hasSynced || (featureKinds.has(kind) && c.forbidden),
    );
  }

  /** Runs until signal aborts; returns the exit code. */
  async run(signal: AbortSignal): Promise<number> {
    const [host, port] = this.d.config.metricsBindAddress.split(/:(?=\d+$)/) as [string, string];
    this.ops = await startOpsServer({
      host: host || "0.0.0.0",
      port: Number(port),
      registry: this.d.registry,
      live: [],
      ready: [() => (this.synced() ? null : "informers not synced")],
    });
    this.d.log.info({ address: this.ops.url }, "Serving metrics and health");

    // Caches warm up while waiting for leadership, so a new leader acts at once.
    // Each cache keeps only what a reconcile reads (src/k8s/slim.ts).
    this.startInformers(resourceTypes.ModelDeployment, slimModelDeployment);
    for (const t of childKinds.filter((k) => !k.optional))
      this.startInformers(t, slimChild(fieldManager), { labelSelector: ownedSelector });
    this.startInformers(resourceTypes.Node, slimNode);
    // Model pods (what their containers say) and GPU pods of any namespace (free GPUs); others are dropped.
    this.startInformers(
      resourceTypes.Pod,
      slimPod((p) => this.podOwnerKey(p) !== undefined),
      { allNamespaces: this.d.config.podsInAllNamespaces },
    );
    await this.discover();
    this.discoveryTimer = setInterval(() => void this.discover(), 60_000);
    this.discoveryTimer.unref();

    let lost = false;
    const stop = new AbortController();
    signal.addEventListener("abort", () => stop.abort(), { once: true });
    if (this.leader) {
      const won = await this.leader.acquire(stop.signal, () => {
        lost = true;
        stop.abort();
      });
      if (!won) return this.shutdown(0);
    }
    while (!this.synced() && !stop.signal.aborted) await new Promise((r) => setTimeout(r, 100));
    this.d.log.info({ workers: this.d.config.workers }, "Caches synced, starting workers");
    for (const c of this.caches.get(resourceTypes.ModelDeployment.kind)?.list() ?? []) {
      const key = this.ownerKey(c);
      if (key) this.queue.add(key);
    }
    this.workers = Array.from({ length: this.d.config.workers }, () => this.worker());
    await new Promise<void>((resolve) =>
      stop.signal.aborted
        ? resolve()
        : stop.signal.addEventListener("abort", () => resolve(), { once: true }),
    );
    return this.shutdown(lost ? 1 : 0);
  }

  private async shutdown(code: number): Promise<number> {
    this.d.log.info({ inFlight: this.queue.busy }, "Shutting down: draining workers");
    this.queue.shutDown();
    await Promise.all(this.workers);
    await this.leader?.release();
    clearInterval(this.discoveryTimer);
    await Promise.all([...this.caches.values()].flatMap((c) => c.members.map((m) => m.stop())));
    await this.ops?.close();
    this.d.log.info("Stopped");
    return code;
  }
}
