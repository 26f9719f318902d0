import type { Logger } from "pino";
import type { KubeClient, KubeObject } from "../k8s/client.js";
import { isConflict, isNotFound } from "../k8s/errors.js";
import { resourcePath, resourceTypes } from "../k8s/resources.js";

export interface LeaderElectionOptions {
  client: KubeClient;
  namespace: string;
  name: string;
  identity: string;
  log: Logger;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

const microTime = (d: Date) => d.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");

/**
 * Leader election on a coordination.k8s.io Lease, as client-go does it: acquire when free or expired, renew
 * every retry period, give up leadership when a renewal has not succeeded within renewDeadline, release on stop.
 * Optimistic concurrency (resourceVersion) makes two candidates never both win.
 */
export class LeaderElector {
  private leading = false;
  private stopped = false;
  private lastRenew = 0;

  constructor(private readonly o: LeaderElectionOptions) {}

  get isLeader(): boolean {
    return this.leading;
  }

  private path(name?: string) {
    return resourcePath(resourceTypes.Lease, this.o.namespace, name);
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = new Date();
    let lease: KubeObject & { spec?: LeaseSpec };
    try {
      lease = await this.o.client.get(this.path(this.o.name));
    } catch (err) {
      if (!isNotFound(err)) throw err;
      try {
        await this.o.client.request("POST", this.path(), {
          body: {
            apiVersion: "coordination.k8s.io/v1",
            kind: "Lease",
            metadata: { name: this.o.name, namespace: this.o.namespace },
            spec: {
              holderIdentity: this.o.identity,
              leaseDurationSeconds: Math.round(this.o.leaseDurationMs / 1000),
              acquireTime: microTime(now),
              renewTime: microTime(now),
              leaseTransitions: 0,
            },
          },
        });
        return true;
      } catch (e) {
        if (isConflict(e)) return false;
        throw e;
      }
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? "";
    const renewedAt = spec.renewTime ? Date.parse(spec.renewTime) : 0;
    const expired = renewedAt + (spec.leaseDurationSeconds ?? 0) * 1000 < now.getTime();
    if (holder && holder !== this.o.identity && !expired) return false;
    const taking = holder !== this.o.identity;
    try {
      await this.o.client.request("PUT", this.path(this.o.name), {
        body: {
          ...lease,
          spec: {
            ...spec,
            holderIdentity: this.o.identity,
            leaseDurationSeconds: Math.round(this.o.leaseDurationMs / 1000),
            renewTime: microTime(now),
            ...(taking
              ? { acquireTime: microTime(now), leaseTransitions: (spec.leaseTransitions ?? 0) + 1 }
              : {}),
          },
        },
      });
      return true;
    } catch (e) {
      if (isConflict(e)) return false;
      throw e;
    }
  }

  /** Resolves when this process becomes leader; then keeps renewing and calls onLost if leadership is lost. */
  async acquire(signal: AbortSignal, onLost: () => void): Promise<boolean> {
    while (!signal.aborted) {
      try {
        if (await this.tryAcquireOrRenew()) {
          this.leading = true;
          this.lastRenew = Date.now();
          this.o.log.info(
            { lease: `${this.o.namespace}/${this.o.name}`, identity: this.o.identity },
            "Acquired leader lease",
          );
          void this.renewLoop(signal, onLost);
          return true;
        }
      } catch (err) {
        this.o.log.warn({ err: (err as Error).message }, "Failed to acquire leader lease");
      }
      await sleep(this.o.retryPeriodMs * (1 + Math.random() * 0.2), signal);
    }
    return false;
  }

  private async renewLoop(signal: AbortSignal, onLost: () => void): Promise<void> {
    while (!signal.aborted && !this.stopped) {
      await sleep(this.o.retryPeriodMs, signal);
      if (signal.aborted || this.stopped) return;
      try {
        if (await this.tryAcquireOrRenew()) {
          this.lastRenew = Date.now();
          continue;
        }
      } catch (err) {
        this.o.log.warn({ err: (err as Error).message }, "Failed to renew leader lease");
      }
      if (Date.now() - this.lastRenew > this.o.renewDeadlineMs) {
        this.leading = false;
        this.o.log.error({ lease: this.o.name }, "Lost leader lease");
        onLost();
        return;
      }
    }
  }

  /** Gives the lease up so a successor takes over at once instead of waiting for expiry. */
  async release(): Promise<void> {
    this.stopped = true;
    if (!this.leading) return;
    this.leading = false;
    try {
      const lease = await this.o.client.get<KubeObject & { spec?: LeaseSpec }>(this.path(this.o.name));
      if (lease.spec?.holderIdentity !== this.o.identity) return;
      await this.o.client.request("PUT", this.path(this.o.name), {
        body: {
          ...lease,
          spec: {
            ...lease.spec,
            holderIdentity: null,
            leaseDurationSeconds: 1,
            renewTime: microTime(new Date()),
          },
        },
      });
      this.o.log.info({ lease: this.o.name }, "Released leader lease");
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message }, "Failed to release leader lease");
    }
  }
}

/** Waits ms or until the signal aborts; the abort listener goes with the wait (one is added per renewal). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(t);
      resolve();
    };
    const t = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
