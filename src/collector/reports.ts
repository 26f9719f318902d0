// Drift reports kept by the collector, so the full report of every scheduled run outlives its pod:
// DIR/@reports/<model>/<stamp>_<verdict>.json ('@' is a name no model partition can take). Writes are
// atomic (temp file + rename); the newest KEEP_REPORTS per model are kept. With a shared archive (several
// collectors), each report is also stored there under reports/<model>/, so whichever collector a reader's
// request reaches finds it.
import { randomBytes } from "node:crypto";
import { mkdir, readFile, readdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ArchiveTarget } from "../events/archive-target.js";
import { safeSegment } from "../events/partition.js";

export const REPORTS_DIR = "@reports";
export const MAX_REPORT_BYTES = 16 * 1024 * 1024;
export const KEEP_REPORTS = 200;
/** Where reports go in a shared archive; the archive's own listing and retention skip this prefix. */
export const SHARED_REPORTS_PREFIX = "reports/";

export interface ReportEntry {
  id: string;
  generatedAt: string;
  verdict: string;
}

/** The parts of a drift report the store checks and files it by; throws naming what is wrong. */
export function reportHeader(body: string): { model: string; generatedAt: Date; verdict: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch (err) {
    throw new Error(`report is not JSON: ${(err as Error).message}`);
  }
  const r = raw as { kind?: unknown; model?: unknown; generatedAt?: unknown; verdict?: unknown } | null;
  if (r === null || typeof r !== "object" || r.kind !== "DriftReport")
    throw new Error('report must be a DriftReport (kind: "DriftReport"), as `modelship drift` writes');
  if (typeof r.model !== "string" || r.model === "") throw new Error("report.model must be a model name");
  const t = typeof r.generatedAt === "string" ? new Date(r.generatedAt) : new Date(NaN);
  if (Number.isNaN(t.getTime())) throw new Error("report.generatedAt must be an RFC 3339 time");
  if (r.verdict !== "ok" && r.verdict !== "drift" && r.verdict !== "error")
    throw new Error("report.verdict must be ok, drift or error");
  return { model: r.model, generatedAt: t, verdict: r.verdict };
}

/** `20260101T010203.456Z-1a2b3c_drift`: sorts by time; the random part keeps two runs in one ms apart. */
function reportId(generatedAt: Date): string {
  return `${generatedAt.toISOString().replace(/[-:]/g, "")}-${randomBytes(3).toString("hex")}`;
}

function fileName(e: ReportEntry): string {
  return `${e.id}_${e.verdict}.json`;
}

const newestFirst = (a: ReportEntry, b: ReportEntry) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

function parseName(name: string): ReportEntry | undefined {
  const m = /^(\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{6})_(ok|drift|error)\.json$/.exec(name);
  if (!m) return undefined;
  const s = m[1]!;
  const generatedAt = `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 11)}:${s.slice(11, 13)}:${s.slice(13, 20)}`;
  return { id: s, generatedAt, verdict: m[2]! };
}

export class ReportStore {
  constructor(
    private readonly dir: string,
    private readonly keep = KEEP_REPORTS,
    /** The collectors' shared archive: reports are stored there too, and read from it when not here. */
    private readonly shared?: ArchiveTarget,
  ) {}

  private modelDir(model: string): string {
    return join(this.dir, REPORTS_DIR, safeSegment(model));
  }

  private sharedDir(model: string): string {
    return `${SHARED_REPORTS_PREFIX}${safeSegment(model)}/`;
  }

  /**
   * Stores a report (its text as sent) and returns its id; prunes the oldest beyond `keep`. The shared
   * copy is written first: a report this collector answered for is one every collector can serve.
   */
  async put(body: string): Promise<{ model: string; id: string }> {
    const h = reportHeader(body);
    const entry = {
      id: reportId(h.generatedAt),
      generatedAt: h.generatedAt.toISOString(),
      verdict: h.verdict,
    };
    if (this.shared) {
      await this.shared.store(this.sharedDir(h.model) + fileName(entry), (f) => writeFile(f, body));
      const old = (await this.sharedList(h.model)).slice(this.keep);
      if (old.length > 0) await this.shared.remove(old.map((e) => this.sharedDir(h.model) + fileName(e)));
    }
    const dir = this.modelDir(h.model);
    await mkdir(dir, { recursive: true });
    const file = join(dir, fileName(entry));
    const tmp = `${file}.tmp`;
    await writeFile(tmp, body, { flush: true });
    await rename(tmp, file);
    for (const old of (await this.localList(h.model)).slice(this.keep))
      await rm(join(dir, fileName(old)), { force: true });
    return { model: h.model, id: entry.id };
  }

  private async localList(model: string): Promise<ReportEntry[]> {
    let names: string[];
    try {
      names = await readdir(this.modelDir(model));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
    return names
      .map(parseName)
      .filter((e): e is ReportEntry => e !== undefined)
      .sort(newestFirst);
  }

  private async sharedList(model: string): Promise<ReportEntry[]> {
    if (!this.shared) return [];
    const dir = this.sharedDir(model);
    return (await this.shared.list(dir))
      .map((k) => parseName(k.slice(dir.length)))
      .filter((e): e is ReportEntry => e !== undefined)
      .sort(newestFirst);
  }

  /** A model's reports, newest first: this collector's and, with a shared archive, every collector's. */
  async list(model: string): Promise<ReportEntry[]> {
    const byId = new Map<string, ReportEntry>();
    for (const e of [...(await this.localList(model)), ...(await this.sharedList(model))]) byId.set(e.id, e);
    return [...byId.values()].sort(newestFirst).slice(0, this.keep);
  }

  /** A report's text by id, or the newest with "latest"; undefined when there is none. */
  async get(model: string, id: string): Promise<string | undefined> {
    const all = await this.list(model);
    const e = id === "latest" ? all[0] : all.find((x) => x.id === id);
    if (!e) return undefined;
    try {
      return await readFile(join(this.modelDir(model), fileName(e)), "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT" || !this.shared) throw err;
    }
    return (await this.shared.read(this.sharedDir(model) + fileName(e), MAX_REPORT_BYTES))?.toString("utf8");
  }
}
