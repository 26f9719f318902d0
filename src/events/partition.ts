/**
 * Where an event lives in a store: <model>/<YYYY-MM-DD>/<HH> by the event's own time (UTC), so a
 * retried event lands in the same partition as its first copy and an export for a time window
 * reads only the hours it covers.
 */
export interface Partition {
  model: string;
  date: string;
  hour: string;
}

/** Model names become one safe path segment: k8s names pass unchanged, anything else is escaped. */
export function safeSegment(name: string): string {
  const s = name.replace(/[^A-Za-z0-9._-]/g, "_");
  return s === "" || s === "." || s === ".." ? `_${s}` : s;
}

export function partitionOf(model: string, time: string | Date): Partition {
  const d = typeof time === "string" ? new Date(time) : time;
  const iso = Number.isNaN(d.getTime()) ? new Date(0).toISOString() : d.toISOString();
  return { model: safeSegment(model), date: iso.slice(0, 10), hour: iso.slice(11, 13) };
}

export function partitionKey(p: Partition): string {
  return `${p.model}/${p.date}/${p.hour}`;
}

/** The partitions (date, hour) an inclusive-exclusive time window touches, oldest first. */
export function hoursBetween(since: Date, until: Date): { date: string; hour: string }[] {
  const out: { date: string; hour: string }[] = [];
  const start = Math.floor(since.getTime() / 3_600_000) * 3_600_000;
  for (let t = start; t < until.getTime(); t += 3_600_000) {
    const iso = new Date(t).toISOString();
    out.push({ date: iso.slice(0, 10), hour: iso.slice(11, 13) });
  }
  return out;
}

/** A quick look at an NDJSON event line: its id, subject/model and time, without validating it. */
const OWN_LINE =
  /^\{"specversion":"1\.0","id":"([^"\\]+)","source":"[^"\\]*","subject":"([^"\\]+)","type":"[^"\\]*","time":"([^"\\]+)"/;

export function eventKeys(line: string): { id: string; model: string; time: string } | undefined {
  // lines the logger wrote itself have a fixed key order: read the keys without parsing the whole event
  const m = OWN_LINE.exec(line);
  if (m) return { id: m[1] as string, model: m[2] as string, time: m[3] as string };
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof v !== "object" || v === null) return undefined;
  const e = v as { id?: unknown; subject?: unknown; time?: unknown; data?: { model?: { name?: unknown } } };
  const model = typeof e.subject === "string" ? e.subject : e.data?.model?.name;
  if (typeof e.id !== "string" || typeof model !== "string" || typeof e.time !== "string") return undefined;
  return { id: e.id, model, time: e.time };
}
