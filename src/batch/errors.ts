// How a batch run fails: messages that name the spec field to fix, and whether retrying can help.

/**
 * A failure that no retry can fix (bad SQL, a table we may not write, a wrong password, a model that
 * does not load): the CLI exits 3, and the Job's pod failure policy fails the whole run at once.
 */
export class PermanentError extends Error {
  override name = "PermanentError";
}

interface PgLikeError {
  code?: string;
  message: string;
  position?: string;
  detail?: string;
  hint?: string;
}

function pgError(err: unknown): PgLikeError | undefined {
  if (
    err instanceof Error &&
    typeof (err as PgLikeError).code === "string" &&
    /^[0-9A-Z]{5}$/.test((err as PgLikeError).code!)
  )
    return err as PgLikeError;
  return undefined;
}

/**
 * SQLSTATE classes a retry cannot fix: 42 (syntax, undefined table or column, no privilege), 28 (wrong
 * user or password), 3D (no such database), 3F (no such schema), 22 (a value the type refuses), 0A
 * (not supported).
 */
export function isPermanentSqlError(err: unknown): boolean {
  const code = pgError(err)?.code;
  return code !== undefined && ["42", "28", "3D", "3F", "22", "0A"].includes(code.slice(0, 2));
}

/**
 * PostgreSQL's message with its SQLSTATE, detail and hint. `offset` moves a position inside a
 * wrapped query back to the user's own text.
 */
export function describeSqlError(err: unknown, offset = 0): string {
  const pg = pgError(err);
  if (!pg) return (err as Error).message ?? String(err);
  const parts = [pg.message];
  const extra = [`SQLSTATE ${pg.code}`];
  const pos = Number(pg.position);
  if (Number.isInteger(pos) && pos - offset > 0) extra.push(`at character ${pos - offset} of the query`);
  if (pg.detail) parts.push(pg.detail);
  if (pg.hint) parts.push(`hint: ${pg.hint}`);
  return `${parts.join("; ")} (${extra.join(", ")})`;
}

/** Wraps a database error in a message naming the spec field, keeping whether it is worth a retry. */
export function sqlFailure(what: string, err: unknown, offset = 0): Error {
  const message = `${what}: ${describeSqlError(err, offset)}`;
  return isPermanentSqlError(err) ? new PermanentError(message) : new Error(message);
}
