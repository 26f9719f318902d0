import { listen } from "./listen.js";
import { createServer, type Server } from "node:http";
import type { Registry } from "prom-client";

/** A named readiness/liveness check; returns null when healthy, or a reason. */
export type HealthCheck = () => string | null;

export interface OpsServerOptions {
  host?: string;
  port: number;
  registry: Registry;
  live?: HealthCheck[];
  ready?: HealthCheck[];
}

export interface OpsServer {
  server: Server;
  url: string;
  close(): Promise<void>;
}

function runChecks(checks: HealthCheck[] | undefined): string[] {
  return (checks ?? []).map((c) => c()).filter((r): r is string => r !== null);
}

/** /metrics, /healthz and /readyz for a process whose main port speaks something else. */
export async function startOpsServer(opts: OpsServerOptions): Promise<OpsServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405).end();
      return;
    }
    if (path === "/metrics") {
      opts.registry.metrics().then(
        (text) => res.writeHead(200, { "content-type": opts.registry.contentType }).end(text),
        (err: Error) => res.writeHead(500, { "content-type": "text/plain" }).end(err.message),
      );
      return;
    }
    if (path === "/healthz" || path === "/livez" || path === "/readyz") {
      const failures = runChecks(path === "/readyz" ? opts.ready : opts.live);
      const body = failures.length === 0 ? "ok\n" : failures.join("\n") + "\n";
      res.writeHead(failures.length === 0 ? 200 : 503, { "content-type": "text/plain" }).end(body);
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
  });
  return {
    server,
    url: await listen(server, opts.port, opts.host ?? "0.0.0.0"),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
