// A PostgreSQL connection from a mounted Secret: a folder with one file per key.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { PermanentError, sqlFailure } from "./errors.js";

/**
 * The keys read, as CloudNativePG's and Crunchy PGO's app Secrets spell them: `uri`, or `host`, `port`,
 * `dbname` (or `database`), `user` (or `username`), `password`, `sslmode`, and `ca.crt` for sslmode
 * verify-ca / verify-full. Without a folder, node-postgres reads PGHOST, PGPORT, PGUSER, PGPASSWORD
 * and PGDATABASE from the environment, as psql does.
 */
export function connectionFromDir(dir: string | undefined): pg.ClientConfig {
  if (dir === undefined) return {};
  const read = (key: string): string | undefined => {
    const p = join(dir, key);
    if (!existsSync(p)) return undefined;
    // `kubectl create secret --from-file` keeps a file's final newline; no key here ends in one on purpose
    return readFileSync(p, "utf8").replace(/\r?\n$/, "");
  };
  const uri = read("uri");
  const config: pg.ClientConfig = uri !== undefined ? { connectionString: uri } : {};
  const host = read("host");
  const port = read("port");
  const database = read("dbname") ?? read("database");
  const user = read("user") ?? read("username");
  const password = read("password");
  if (uri === undefined) {
    if (host !== undefined) config.host = host.trim();
    if (port !== undefined) {
      const n = Number(port.trim());
      if (!Number.isInteger(n) || n < 1 || n > 65535)
        throw new PermanentError(`the connection Secret's key "port" must be a port number, got "${port}"`);
      config.port = n;
    }
    if (database !== undefined) config.database = database.trim();
    if (user !== undefined) config.user = user.trim();
  }
  if (password !== undefined) config.password = password;
  const sslmode = read("sslmode")?.trim();
  if (sslmode !== undefined) {
    const ca = read("ca.crt");
    switch (sslmode) {
      case "disable":
      case "allow":
      case "prefer":
        // node-postgres cannot fall back from TLS to plain text as libpq's allow/prefer do: plain text
        config.ssl = false;
        break;
      case "require":
        config.ssl = { rejectUnauthorized: false };
        break;
      case "verify-ca":
      case "verify-full":
        config.ssl = { rejectUnauthorized: true, ...(ca !== undefined ? { ca } : {}) };
        break;
      default:
        throw new PermanentError(
          `the connection Secret's key "sslmode" must be disable, allow, prefer, require, verify-ca or verify-full, got "${sslmode}"`,
        );
    }
  }
  return config;
}

/** user@host:port/database of a connected (or configured) client, for messages: never the password. */
export function describeClient(c: pg.Client): string {
  const p = c as unknown as { user?: string; host?: string; port?: number; database?: string };
  return `${p.user ?? "?"}@${p.host ?? "?"}:${p.port ?? "?"}/${p.database ?? "?"}`;
}

/**
 * A connected client, or an error naming the Secret's field and where it tried to connect. Failing to
 * reach the server is worth a retry; a wrong password or database is not.
 */
export async function connect(config: pg.ClientConfig, field: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionTimeoutMillis: 15_000, ...config });
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    const e = err as Error & { code?: string };
    const what = `cannot connect to the database ${describeClient(client)} (${field})`;
    if (e.code !== undefined && /^[0-9A-Z]{5}$/.test(e.code)) throw sqlFailure(what, err);
    throw new Error(`${what}: ${e.message || e.code || String(err)}`);
  }
  // an idle server-side error (the server restarting) must not crash the process: the next query fails
  client.on("error", () => {});
  return client;
}
