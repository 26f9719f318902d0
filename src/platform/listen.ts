import type { Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * Starts `server` on host:port (port 0 picks a free one) and returns the URL a local client dials:
 * a wildcard host is reached through 127.0.0.1.
 */
export async function listen(server: Server, port: number, host: string): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return `http://${host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host}:${addr.port}`;
}
