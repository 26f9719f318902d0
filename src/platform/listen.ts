import type { Server } from "node:http";
import type { AddressInfo } from "node:net";

const REASONS: Record<string, string> = {
  EADDRINUSE: "address already in use",
  EACCES: "permission denied",
  EADDRNOTAVAIL: "address not available on this machine",
};

/** The port could not be opened; the message is one line for the operator, e.g. "cannot listen on 0.0.0.0:8081: address already in use (EADDRINUSE)". */
export class ListenError extends Error {
  override name = "ListenError";
  readonly code: string | undefined;
  constructor(host: string, port: number, cause: NodeJS.ErrnoException) {
    const where = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
    const why =
      cause.code === undefined ? cause.message : `${REASONS[cause.code] ?? cause.message} (${cause.code})`;
    super(`cannot listen on ${where}: ${why}`, { cause });
    this.code = cause.code;
  }
}

/**
 * Starts `server` on host:port (port 0 picks a free one) and returns the URL a local client dials:
 * a wildcard host is reached through 127.0.0.1.
 */
export async function listen(server: Server, port: number, host: string): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => reject(new ListenError(host, port, err)));
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return `http://${host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host}:${addr.port}`;
}

/** Parses HOST:PORT, :PORT or PORT (host defaults to defaultHost); throws naming the flag. */
export function parseListen(
  value: string,
  flag: string,
  defaultHost = "0.0.0.0",
): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(value) ?? /^()()(\d+)$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--${flag} must be HOST:PORT, :PORT or PORT (e.g. 0.0.0.0:8080), got "${value}"`);
  }
  const host = m[1] ?? m[2] ?? "";
  return { host: host === "" ? defaultHost : host, port };
}
