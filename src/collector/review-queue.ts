// The human review queue: inference events marked for review (data.review) are queued per model as they
// are stored; reviewers list, claim and label them; a label is stored as a feedback event, the same event
// POST /v2/feedback makes, so concept drift reads it. Each model's queue is a JSON file under
// DIR/@review, written atomically before an answer; at most maxItems items per model.
import { createHash } from "node:crypto";
import { mkdir, open, readFile, readdir, rename } from "node:fs/promises";
import { join } from "node:path";
import { Counter, Gauge, type Registry } from "prom-client";
import { feedbackEventFrom } from "../events/build.js";
import { safeSegment } from "../events/partition.js";
import { isInferenceEvent, type InferenceEvent, type ModelshipEvent } from "../events/schema.js";
import type { Logger } from "../platform/log.js";
import {
  claimItems,
  evictionCandidate,
  itemState,
  labelRefusal,
  REVIEW_STATES,
  type ReviewItem,
  type ReviewLabel,
  type ReviewState,
} from "./review-decide.js";
import type { IngestResult } from "./store.js";

/** Beside the model partitions; '@' is a name no model partition can take (safeSegment). */
export const REVIEW_DIR = "@review";
/** Rows of a batch copied into an item; the event in the store keeps them all. */
const MAX_ROWS_PER_ITEM = 16;
/** Request inputs are copied only when their JSON is at most this long (and there are no features). */
const MAX_INPUTS_JSON = 8192;

export interface ReviewQueueOptions {
  dir: string;
  /** Stores a feedback event line (the event store's ingest). */
  ingest(lines: string[]): Promise<IngestResult>;
  registry: Registry;
  log: Logger;
  /** Items kept per model; when full, the oldest labeled then pending item makes room. */
  maxItems?: number;
  now?: () => Date;
}

export class ReviewError extends Error {
  constructor(
    readonly status: 400 | 404 | 409 | 500,
    message: string,
  ) {
    super(message);
  }
}

function createReviewMetrics(
  registry: Registry,
  queues: () => Iterable<Map<string, ReviewItem>>,
  now: () => Date,
) {
  const registers = [registry];
  return {
    results: new Counter({
      name: "modelship_collector_review_items_total",
      help: "Review queue changes, by result: queued, duplicate, evicted, dropped (queue full of claims), claimed, labeled, released.",
      labelNames: ["result"] as const,
      registers,
    }),
    items: new Gauge({
      name: "modelship_collector_review_queue_items",
      help: "Items in the review queues, by model and state (pending, claimed, labeled).",
      labelNames: ["model", "state"] as const,
      registers,
      collect() {
        this.reset();
        const t = now();
        for (const q of queues()) {
          const counts: Record<ReviewState, number> = { pending: 0, claimed: 0, labeled: 0 };
          let model: string | undefined;
          for (const i of q.values()) {
            model = i.model;
            counts[itemState(i, t)]++;
          }
          if (model !== undefined) for (const s of REVIEW_STATES) this.set({ model, state: s }, counts[s]);
        }
      },
    }),
  };
}

/** The review item of a marked inference event: what a reviewer needs to see, capped. */
export function itemOf(e: InferenceEvent, queuedAt: Date): ReviewItem | undefined {
  const d = e.data;
  const mark = d.review;
  if (mark === undefined) return undefined;
  const rows = mark.rows.slice(0, MAX_ROWS_PER_ITEM);
  const item: ReviewItem = {
    eventId: e.id,
    model: e.subject,
    ...(d.model.version !== undefined ? { modelVersion: d.model.version } : {}),
    source: e.source,
    revision: d.revision,
    time: e.time,
    queuedAt: queuedAt.toISOString(),
    topProbability: mark.topProbability,
    threshold: mark.threshold,
    rows: mark.rows,
  };
  if (d.features !== undefined) item.features = rows.map((r) => d.features![r] ?? {});
  if (d.predictions !== undefined) item.predictions = rows.map((r) => d.predictions![r] ?? null);
  if (d.features === undefined && JSON.stringify(d.request.inputs).length <= MAX_INPUTS_JSON)
    item.inputs = d.request.inputs;
  return item;
}

/** A feedback id derived from the inference event's: a retried label that is stored twice de-duplicates. */
function feedbackId(eventId: string): string {
  const h = createHash("sha256").update(`review\n${eventId}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export class ReviewQueue {
  /** model -> eventId -> item, for the models touched since start (read from disk on first touch). */
  private readonly queues = new Map<string, Map<string, ReviewItem>>();
  private readonly saving = new Map<string, Promise<unknown>>();
  private readonly metrics: ReturnType<typeof createReviewMetrics>;
  private readonly maxItems: number;
  private readonly now: () => Date;

  constructor(private readonly opts: ReviewQueueOptions) {
    this.maxItems = opts.maxItems ?? 1000;
    this.now = opts.now ?? (() => new Date());
    this.metrics = createReviewMetrics(opts.registry, () => this.queues.values(), this.now);
  }

  private get root(): string {
    return join(this.opts.dir, REVIEW_DIR);
  }

  private file(model: string): string {
    return join(this.root, `${safeSegment(model)}.json`);
  }

  /** Reads every queue on disk, so the gauges show them from the start. */
  async start(): Promise<void> {
    let names: string[] = [];
    try {
      names = await readdir(this.root);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    for (const n of names) {
      if (!n.endsWith(".json")) continue;
      const items = await this.read(join(this.root, n));
      const model = items[0]?.model;
      if (model !== undefined) this.queues.set(model, new Map(items.map((i) => [i.eventId, i])));
    }
  }

  private async read(path: string): Promise<ReviewItem[]> {
    try {
      const parsed = JSON.parse(await readFile(path, "utf8")) as { items?: ReviewItem[] };
      return Array.isArray(parsed.items) ? parsed.items : [];
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      // a damaged file must not stop the collector: its events are still in the store
      this.opts.log.error({ err, file: path }, "Failed to read review queue, starting it empty");
      return [];
    }
  }

  private async queue(model: string): Promise<Map<string, ReviewItem>> {
    let q = this.queues.get(model);
    if (q === undefined) {
      const items = await this.read(this.file(model));
      // another call may have loaded it while this one read
      q = this.queues.get(model) ?? new Map(items.map((i) => [i.eventId, i]));
      this.queues.set(model, q);
    }
    return q;
  }

  /** Writes a model's queue as it is now: temp file, fsync, rename. Saves of one model run one at a time. */
  private save(model: string): Promise<void> {
    const run = async () => {
      await mkdir(this.root, { recursive: true });
      const q = this.queues.get(model) ?? new Map();
      const path = this.file(model);
      const tmp = `${path}.tmp`;
      const fh = await open(tmp, "w");
      try {
        await fh.writeFile(JSON.stringify({ model, items: [...q.values()] }));
        await fh.datasync();
      } finally {
        await fh.close();
      }
      await rename(tmp, path);
    };
    const next = (this.saving.get(model) ?? Promise.resolve()).then(run, run);
    this.saving.set(
      model,
      next.catch(() => undefined),
    );
    return next;
  }

  /**
   * Queues the marked inference events among stored ones (the store's hook, after they are durable). A
   * failure is logged, never thrown: the events are stored and must be acknowledged.
   */
  async offer(events: readonly ModelshipEvent[]): Promise<void> {
    const touched = new Set<string>();
    const now = this.now();
    for (const e of events) {
      if (!isInferenceEvent(e) || e.data.review === undefined) continue;
      const item = itemOf(e, now);
      if (item === undefined) continue;
      const q = await this.queue(item.model);
      if (q.has(item.eventId)) {
        this.metrics.results.inc({ result: "duplicate" });
        continue;
      }
      if (q.size >= this.maxItems) {
        const out = evictionCandidate(q.values(), now);
        if (out === undefined) {
          this.metrics.results.inc({ result: "dropped" });
          continue;
        }
        q.delete(out.eventId);
        this.metrics.results.inc({ result: "evicted" });
      }
      q.set(item.eventId, item);
      touched.add(item.model);
      this.metrics.results.inc({ result: "queued" });
    }
    for (const model of touched) {
      try {
        await this.save(model);
      } catch (err) {
        this.opts.log.error({ err, model }, "Failed to write review queue");
      }
    }
  }

  /** A model's items in one state (or all), lowest confidence first; and how many there are in each. */
  async list(
    model: string,
    state: ReviewState | "all",
    limit: number,
  ): Promise<{ items: (ReviewItem & { state: ReviewState })[]; counts: Record<ReviewState, number> }> {
    const now = this.now();
    const counts: Record<ReviewState, number> = { pending: 0, claimed: 0, labeled: 0 };
    const out: (ReviewItem & { state: ReviewState })[] = [];
    for (const i of (await this.queue(model)).values()) {
      const s = itemState(i, now);
      counts[s]++;
      if (state === "all" || s === state) out.push({ ...i, state: s });
    }
    out.sort((a, b) => a.topProbability - b.topProbability || a.queuedAt.localeCompare(b.queuedAt));
    return { items: out.slice(0, limit), counts };
  }

  /** Claims up to count pending items for leaseMs; an unlabeled claim expires and the items are pending again. */
  async claim(model: string, reviewer: string, count: number, leaseMs: number): Promise<ReviewItem[]> {
    const taken = claimItems((await this.queue(model)).values(), reviewer, count, this.now(), leaseMs);
    if (taken.length > 0) {
      await this.save(model);
      this.metrics.results.inc({ result: "claimed" }, taken.length);
      this.opts.log.info({ model, reviewer, items: taken.length }, "Claimed review items");
    }
    return taken.map((i) => ({ ...i }));
  }

  /** Gives a claimed item back before its claim expires. */
  async release(model: string, eventId: string, reviewer: string): Promise<void> {
    const item = await this.item(model, eventId);
    const now = this.now();
    if (itemState(item, now) !== "claimed") return;
    if (item.claim!.reviewer !== reviewer)
      throw new ReviewError(409, `event ${eventId} is claimed by ${item.claim!.reviewer}, not ${reviewer}`);
    delete item.claim;
    await this.save(model);
    this.metrics.results.inc({ result: "released" });
  }

  private async item(model: string, eventId: string): Promise<ReviewItem> {
    const item = (await this.queue(model)).get(eventId);
    if (item === undefined)
      throw new ReviewError(
        404,
        `event ${eventId} is not in the review queue of model ${model}; list it with GET /v1/review/${model}`,
      );
    return item;
  }

  /**
   * Labels an item: stores a feedback event (ground truth for the inference event, as POST /v2/feedback
   * would) and then marks the item labeled. The feedback is stored first, so a crash in between leaves an
   * item that can be labeled again, never a label without its feedback.
   */
  async label(
    model: string,
    eventId: string,
    reviewer: string,
    value: ReviewLabel["value"],
  ): Promise<{ feedbackId: string; created: boolean }> {
    const item = await this.item(model, eventId);
    const now = this.now();
    const refused = labelRefusal(item, reviewer, value, now);
    if (refused) throw new ReviewError(refused.status, refused.error);
    if (item.label !== undefined) return { feedbackId: item.label.feedbackId, created: false };
    const id = feedbackId(eventId);
    const event = feedbackEventFrom(
      id,
      now,
      { eventId, groundTruth: value },
      {
        source: item.source,
        model:
          item.modelVersion === undefined ? { name: model } : { name: model, version: item.modelVersion },
      },
    );
    const stored = await this.opts.ingest([JSON.stringify(event)]);
    if (stored.accepted + stored.duplicates === 0)
      throw new ReviewError(500, `feedback event not stored: ${stored.errors.join("; ") || "expired"}`);
    item.label = { value, reviewer, at: now.toISOString(), feedbackId: id };
    delete item.claim;
    await this.save(model);
    this.metrics.results.inc({ result: "labeled" });
    this.opts.log.info({ model, eventId, reviewer, feedbackId: id }, "Labeled review item");
    return { feedbackId: id, created: true };
  }
}
