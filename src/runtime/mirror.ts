// Shadow traffic without a mesh: the stable pods' front copies a sampled share of inference requests to
// the shadow target (the candidate's Service) after the client has its answer. The copy is fire and
// forget: bounded in flight, timed out, its answer read and dropped. The candidate records the copy's
// event itself, labelled shadow (SHADOW_HEADER), so shadow answers are compared from the event store.
import type { IncomingMessage } from "node:http";
import { Counter, type Registry } from "prom-client";
import { Pool } from "undici";
import { SHADOW_HEADER } from "../events/constants.js";
import { forwardRequestHeaders } from "../platform/http-headers.js";
import type { Logger } from "../platform/log.js";
import { PolledFile } from "../platform/polled-file.js";

/** Where copies go and what share of requests is copied (1..100 percent). */
export interface MirrorTarget {
  url: string;
  percent: number;
}

/**
 * Reads a mirror target: JSON {"url": "http://host:port", "percent": N}; empty text means no mirroring.
 * Throws an Error naming the field and what it accepts.
 */
export function parseMirrorTarget(text: string): MirrorTarget | undefined {
  if (text.trim() === "") return undefined;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new Error('mirror target must be JSON like {"url":"http://shadow:8080","percent":50}');
  }
  const o = (typeof v === "object" && v !== null ? v : {}) as Record<string, unknown>;
  const percent = o.percent;
  if (typeof percent !== "number" || !Number.isInteger(percent) || percent < 1 || percent > 100) {
    throw new Error(`mirror target percent must be an integer from 1 to 100, got ${JSON.stringify(percent)}`);
  }
  let url: URL;
  try {
    url = new URL(String(o.url));
  } catch {
    throw new Error(
      `mirror target url must be an http URL like http://shadow:8080, got ${JSON.stringify(o.url)}`,
    );
  }
  if (url.protocol !== "http:" || url.pathname !== "/" || url.search !== "") {
    throw new Error(
      `mirror target url must be http://host[:port] with no path, got ${JSON.stringify(o.url)}`,
    );
  }
  return { url: url.origin, percent };
}

export interface MirrorOptions {
  /** Copies in flight at once; a request sampled beyond it is not copied (counted as skipped). */
  maxInflight: number;
  /** A copy not answered within this is abandoned (counted as timeout). */
  timeoutMs: number;
  registry: Registry;
  log: Logger;
  random?: () => number;
}

/** The copier. `target` changes at run time (MirrorFile); undefined: nothing is copied. */
export class Mirror {
  private current: { target: MirrorTarget; pool: Pool } | undefined;
  private inflight = 0;
  private readonly copies: Counter<"result">;
  private readonly random: () => number;

  constructor(private readonly opts: MirrorOptions) {
    this.random = opts.random ?? Math.random;
    this.copies = new Counter({
      name: "modelship_mirror_copies_total",
      help: "Requests copied to the shadow target, by result: answered (any status), failed (no answer), timeout, skipped (too many in flight)",
      labelNames: ["result"],
      registers: [opts.registry],
    });
  }

  get target(): MirrorTarget | undefined {
    return this.current?.target;
  }

  /** Points copies elsewhere (or nowhere); the old target's connections close once idle. */
  setTarget(target: MirrorTarget | undefined): void {
    const old = this.current;
    if (old?.target.url === target?.url && old?.target.percent === target?.percent) return;
    if (old !== undefined && old.target.url === target?.url) {
      this.current = { target: target!, pool: old.pool };
      return;
    }
    this.current =
      target === undefined
        ? undefined
        : {
            target,
            pool: new Pool(target.url, { connections: this.opts.maxInflight, keepAliveTimeout: 10_000 }),
          };
    if (old !== undefined) void old.pool.close().catch(() => undefined);
  }

  /** How many copies are in flight now. */
  get inFlight(): number {
    return this.inflight;
  }

  /**
   * Copies this request to the shadow when sampled. Call after the client's answer went out; never throws,
   * never delays the caller. `eventId` (the original's event) is sent in SHADOW_HEADER, "-" when none.
   */
  copy(req: IncomingMessage, body: Buffer, eventId: string | undefined): void {
    const cur = this.current;
    if (cur === undefined || this.random() * 100 >= cur.target.percent) return;
    if (req.headers[SHADOW_HEADER] !== undefined) return; // a copy is never copied again
    if (this.inflight >= this.opts.maxInflight) {
      this.copies.inc({ result: "skipped" });
      return;
    }
    this.inflight++;
    const headers = [
      ...forwardRequestHeaders(req.rawHeaders, req.headers.connection),
      SHADOW_HEADER,
      eventId ?? "-",
    ];
    const signal = AbortSignal.timeout(this.opts.timeoutMs);
    cur.pool
      .request({ method: req.method ?? "POST", path: req.url ?? "/", headers, body, signal })
      .then(async (res) => {
        await res.body.dump({ limit: 1 << 20 });
        this.copies.inc({ result: "answered" });
      })
      .catch((err: Error) => {
        const timedOut = signal.aborted;
        this.copies.inc({ result: timedOut ? "timeout" : "failed" });
        this.opts.log.debug({ err: err.message, target: cur.target.url }, "Shadow copy got no answer");
      })
      .finally(() => this.inflight--);
  }

  async close(): Promise<void> {
    const cur = this.current;
    this.current = undefined;
    await cur?.pool.close().catch(() => undefined);
  }
}

/**
 * The mirror target from a file that changes while the pod runs (a key of the controller's variants
 * ConfigMap, refreshed in place by the kubelet). Missing or empty: no mirroring. A bad file is logged once
 * and leaves mirroring off.
 */
export class MirrorFile extends PolledFile {
  private lastBad = "";

  constructor(
    file: string,
    private readonly mirror: Mirror,
    private readonly log: Logger,
  ) {
    super(file);
  }

  async read(): Promise<void> {
    const text = (await this.text()) ?? ""; // not there: this revision mirrors nowhere
    let next: MirrorTarget | undefined;
    try {
      next = parseMirrorTarget(text);
    } catch (err) {
      if (text !== this.lastBad)
        this.log.warn({ file: this.file, err: (err as Error).message }, "Ignored mirror file");
      this.lastBad = text;
    }
    const before = this.mirror.target;
    this.mirror.setTarget(next);
    if (before?.url !== next?.url || before?.percent !== next?.percent) {
      this.log.info(
        { file: this.file, target: next ?? null },
        next ? "Mirroring to shadow" : "Stopped mirroring",
      );
    }
  }
}
