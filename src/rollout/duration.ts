const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds of an API duration such as 500ms, 30s, 5m or 1h (the schema has already checked the form). */
export function durationMs(d: string): number {
  const m = /^([0-9]+)(ms|s|m|h)$/.exec(d);
  if (!m) throw new Error(`invalid duration "${d}": use a number and ms, s, m or h (e.g. 30s)`);
  return Number(m[1]) * (units[m[2]!] ?? 0);
}

/** Milliseconds from `from` (RFC3339) to now; a missing or bad time counts as just now. */
export function elapsedMs(from: string | undefined, now: Date): number {
  if (from === undefined) return 0;
  const t = Date.parse(from);
  return Number.isNaN(t) ? 0 : now.getTime() - t;
}
