// Test helper: a real PostgreSQL server on loopback, from the machine's Debian packages, started and
// stopped by scripts/postgres.sh (which installs the package with apt-get when it is missing).
import { execFile, spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { repoRoot } from "../../testing/repo.js";

const exec = promisify(execFile);
const script = join(repoRoot, "scripts", "postgres.sh");

let missing: string | undefined | null = null;

/**
 * Why PostgreSQL cannot run here (not installed and not installable), or undefined when it can. The
 * first call may install the package (scripts/postgres.sh ensure); the answer is kept.
 */
export function postgresMissing(): string | undefined {
  if (missing !== null) return missing;
  const r = spawnSync("bash", [script, "ensure"], { encoding: "utf8", timeout: 600_000 });
  missing =
    r.status === 0
      ? undefined
      : `PostgreSQL is not available: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim()}`;
  // loud: a skipped integration test must not pass unnoticed
  if (missing) process.stderr.write(`\n*** SKIPPING the PostgreSQL tests: ${missing}\n\n`);
  return missing;
}

export interface Postgres {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  pid: number;
  /** A node-postgres config for the test's own queries and for runs. */
  config: pg.ClientConfig;
  /** Runs one statement on a fresh connection. */
  query<R extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
  /** Stops the server by its pid and removes its data. */
  stop(): Promise<void>;
}

function parse(out: string): Record<string, string> {
  return Object.fromEntries(
    out
      .split("\n")
      .map((l) => /^([A-Z_]+)=(.*)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1] as string, m[2] as string]),
  );
}

/**
 * Starts a throw-away server (fsync off) that goes away with this process at the latest; on loopback,
 * or on `listen` (e.g. the machine's address, for pods of the local cluster).
 */
export async function startPostgres(opts: { listen?: string } = {}): Promise<Postgres> {
  const args = [script, "start", "--fast", "--watch", String(process.pid)];
  if (opts.listen) args.push("--listen", opts.listen);
  const { stdout } = await exec("bash", args, { timeout: 120_000 });
  const v = parse(stdout);
  const config: pg.ClientConfig = {
    host: v.HOST!,
    port: Number(v.PORT),
    user: v.USER!,
    password: v.PASSWORD!,
    database: v.DATABASE!,
  };
  return {
    host: v.HOST!,
    port: Number(v.PORT),
    user: v.USER!,
    password: v.PASSWORD!,
    database: v.DATABASE!,
    pid: Number(v.PID),
    config,
    async query<R extends pg.QueryResultRow>(sql: string, params?: unknown[]) {
      const c = new pg.Client(config);
      await c.connect();
      try {
        return (await c.query<R>(sql, params)).rows;
      } finally {
        await c.end();
      }
    },
    async stop() {
      await exec("bash", [script, "stop", v.PID!], { timeout: 60_000 });
      rmSync(v.DIR!, { recursive: true, force: true });
    },
  };
}
