import type { Logger } from "pino";
import { isGone, ApiError } from "./errors.js";
import type { KubeClient, KubeObject, WatchEvent } from "./client.js";
import { resourcePath, type ResourceType } from "./resources.js";
import type { CacheTransform } from "./slim.js";

export type InformerHandler = (obj: KubeObject, type: "ADDED" | "MODIFIED" | "DELETED" | "RESYNC") => void;

export interface InformerOptions {
  client: KubeClient;
  type: ResourceType;
  /** Undefined: all namespaces. */
  namespace?: string;
  labelSelector?: string;
  log: Logger;
  onEvent: InformerHandler;
  /** Hands every cached object to onEvent this often (level-based safety net). */
  resyncMs: number;
  /** A watch that delivers nothing (not even a bookmark) for this long is restarted. */
  stallMs?: number;
  onRestart?: (reason: string) => void;
  /**
   * What the cache keeps of each object (src/k8s/slim.ts); undefined drops it. Default: the object less its
   * managedFields.
   */
  transform?: CacheTransform;
}

const key = (o: KubeObject) => `${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`;

function stripManagedFields(o: KubeObject): KubeObject {
  if (o.metadata?.managedFields !== undefined) {
    const { managedFields: _drop, ...meta } = o.metadata;
    return { ...o, metadata: meta };
  }
  return o;
}

/** What readers need from a cache; an Informer, or several (one per watched namespace) behind one face. */
export interface Cache {
  readonly hasSynced: boolean;
  get(namespace: string | undefined, name: string): KubeObject | undefined;
  list(filter?: (o: KubeObject) => boolean): KubeObject[];
}

export class CacheSet implements Cache {
  constructor(readonly members: Informer[]) {}
  get hasSynced(): boolean {
    return this.members.every((m) => m.hasSynced);
  }
  get forbidden(): boolean {
    return this.members.some((m) => m.forbidden);
  }
  get size(): number {
    return this.members.reduce((n, m) => n + m.size, 0);
  }
  get jsonBytes(): number {
    return this.members.reduce((n, m) => n + m.jsonBytes, 0);
  }
  get(namespace: string | undefined, name: string): KubeObject | undefined {
    for (const m of this.members) {
      const o = m.get(namespace, name);
      if (o) return o;
    }
    return undefined;
  }
  list(filter?: (o: KubeObject) => boolean): KubeObject[] {
    return this.members.flatMap((m) => m.list(filter));
  }
}

/**
 * List + watch into an in-memory cache. 410 Gone -> relist; any other error or a silent stall -> restart with
 * jittered exponential backoff. Handlers only enqueue; readers use get()/list().
 */
export class Informer implements Cache {
  private readonly cache = new Map<string, KubeObject>();
  /** The JSON size of each cached object: what `modelship_informer_cached_json_bytes` sums. */
  private readonly sizes = new Map<string, number>();
  private bytes = 0;
  private resourceVersion = "";
  private synced = false;
  private denied = false;
  private readonly abort = new AbortController();
  private running?: Promise<void>;
  private resyncTimer?: NodeJS.Timeout;

  private readonly transform: CacheTransform;

  constructor(private readonly o: InformerOptions) {
    this.transform = o.transform ?? stripManagedFields;
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  /** The last list or watch was refused (403): RBAC does not grant list/watch here. */
  get forbidden(): boolean {
    return this.denied;
  }

  get size(): number {
    return this.cache.size;
  }

  /** The cached objects' size as JSON: a proxy for the memory they hold. */
  get jsonBytes(): number {
    return this.bytes;
  }

  private put(k: string, o: KubeObject): void {
    const n = JSON.stringify(o).length;
    this.bytes += n - (this.sizes.get(k) ?? 0);
    this.sizes.set(k, n);
    this.cache.set(k, o);
  }

  private forget(k: string): void {
    this.bytes -= this.sizes.get(k) ?? 0;
    this.sizes.delete(k);
    this.cache.delete(k);
  }

  get(namespace: string | undefined, name: string): KubeObject | undefined {
    return this.cache.get(`${namespace ?? ""}/${name}`);
  }

  list(filter?: (o: KubeObject) => boolean): KubeObject[] {
    const all = [...this.cache.values()];
    return filter ? all.filter(filter) : all;
  }

  start(): void {
    this.running = this.loop();
    this.resyncTimer = setInterval(() => {
      for (const o of this.cache.values()) this.o.onEvent(o, "RESYNC");
    }, this.o.resyncMs);
    this.resyncTimer.unref();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    clearInterval(this.resyncTimer);
    await this.running;
  }

  private path(): string {
    return resourcePath(this.o.type, this.o.namespace);
  }

  private async relist(): Promise<void> {
    const fresh = new Map<string, KubeObject>();
    let cont: string | undefined;
    let rv = "";
    do {
      const page = await this.o.client.get<{
        items: KubeObject[];
        metadata: { resourceVersion: string; continue?: string };
      }>(this.path(), { labelSelector: this.o.labelSelector, limit: 500, continue: cont });
      for (const item of page.items) {
        // List items carry no apiVersion/kind; restore them so handlers can tell kinds apart.
        const obj = this.transform({
          ...item,
          apiVersion: this.o.type.group ? `${this.o.type.group}/${this.o.type.version}` : this.o.type.version,
          kind: this.o.type.kind,
        });
        if (obj) fresh.set(key(obj), obj);
      }
      cont = page.metadata.continue || undefined;
      rv = page.metadata.resourceVersion;
    } while (cont);
    const gone = [...this.cache.entries()].filter(([k]) => !fresh.has(k));
    const known = new Set(this.cache.keys());
    for (const k of known) if (!fresh.has(k)) this.forget(k);
    for (const [k, v] of fresh) this.put(k, v);
    this.resourceVersion = rv;
    this.denied = false;
    for (const [, v] of gone) this.o.onEvent(v, "DELETED");
    for (const [k, v] of fresh) this.o.onEvent(v, known.has(k) ? "MODIFIED" : "ADDED");
    this.synced = true;
  }

  private handle(e: WatchEvent): void {
    if (e.type === "BOOKMARK") {
      this.resourceVersion = e.object.metadata?.resourceVersion ?? this.resourceVersion;
      return;
    }
    if (e.type === "ERROR") {
      const status = e.object as { code?: number; reason?: string; message?: string };
      throw new ApiError(
        status.code ?? 500,
        status.reason ?? "Unknown",
        status.message ?? "watch error",
        "WATCH",
        this.path(),
      );
    }
    this.resourceVersion = e.object.metadata?.resourceVersion ?? this.resourceVersion;
    const obj = this.transform(e.object);
    if (!obj) {
      // No longer of interest (or never was): forget it quietly.
      this.forget(key(e.object));
      return;
    }
    if (e.type === "DELETED") this.forget(key(obj));
    else this.put(key(obj), obj);
    this.o.onEvent(obj, e.type);
  }

  private async loop(): Promise<void> {
    let failures = 0;
    let needList = true;
    while (!this.abort.signal.aborted) {
      try {
        if (needList) {
          await this.relist();
          needList = false;
        }
        await this.o.client.watch(
          this.path(),
          {
            labelSelector: this.o.labelSelector,
            resourceVersion: this.resourceVersion,
            allowWatchBookmarks: true,
            timeoutSeconds: 300,
          },
          (e) => this.handle(e),
          { signal: this.abort.signal, stallMs: this.o.stallMs ?? 330_000 },
        );
        failures = 0; // a clean server-side timeout: just watch again from the last resourceVersion
      } catch (err) {
        if (this.abort.signal.aborted) return;
        if (isGone(err)) {
          this.o.log.info({ kind: this.o.type.kind }, "Watch expired (410 Gone), relisting");
          this.o.onRestart?.("gone");
          needList = true;
          continue;
        }
        failures++;
        needList = true;
        this.denied = err instanceof ApiError && err.code === 403;
        const delay = Math.min(30_000, 500 * 2 ** Math.min(failures, 6)) * (0.5 + Math.random() / 2);
        this.o.log.warn(
          { kind: this.o.type.kind, err: (err as Error).message, retryInMs: Math.round(delay) },
          "Watch failed, restarting",
        );
        this.o.onRestart?.("error");
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }
}
