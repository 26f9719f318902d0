// Starts the real controller (from sources) against the e2e cluster, and reads its metrics.
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { clusterEnv, repoRoot } from "../lib/index.js";

export interface ControllerProcess {
  proc: ChildProcess;
  metricsUrl: string;
  logs: () => string;
  /** Sends a signal and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  metric(name: string, labels?: Record<string, string>): Promise<number>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * `built`: run the compiled controller (dist/, `npm run build` first), as the image does; what memory is
 * measured on. Otherwise from sources through tsx.
 */
export async function startController(
  args: string[],
  { built = false, nodeOptions }: { built?: boolean; nodeOptions?: string } = {},
): Promise<ControllerProcess> {
  const port = await freePort();
  const env = clusterEnv();
  const entry = built
    ? [join(repoRoot, "bin/modelship.js")]
    : ["--import", "tsx", join(repoRoot, "bin/dev.ts")];
  const proc = spawn(
    process.execPath,
    [
      ...entry,
      "controller",
      "--kubeconfig",
      env.kubeconfig,
      "--metrics-bind-address",
      `127.0.0.1:${port}`,
      "--image",
      "modelship/modelship:e2e",
      ...args,
    ],
    {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"],
      ...(nodeOptions !== undefined ? { env: { ...process.env, NODE_OPTIONS: nodeOptions } } : {}),
    },
  );
  let out = "";
  proc.stdout?.on("data", (b: Buffer) => (out += b.toString()));
  proc.stderr?.on("data", (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  const metricsUrl = `http://127.0.0.1:${port}/metrics`;
  return {
    proc,
    metricsUrl,
    logs: () => out,
    async stop(signal = "SIGTERM") {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill(signal);
      return exited;
    },
    async metric(name, labels = {}) {
      const text = await (await fetch(metricsUrl)).text();
      let sum = 0;
      for (const line of text.split("\n")) {
        if (!line.startsWith(name)) continue;
        const m = /^([a-zA-Z_:]+)(\{([^}]*)\})?\s+([0-9.eE+-]+)$/.exec(line);
        if (!m || m[1] !== name) continue;
        const ls = Object.fromEntries(
          (m[3] ?? "")
            .split(",")
            .filter(Boolean)
            .map((kv) => {
              const [k, v] = kv.split("=");
              return [k, v?.replace(/^"|"$/g, "")];
            }),
        );
        if (Object.entries(labels).every(([k, v]) => ls[k] === v)) sum += Number(m[4]);
      }
      return sum;
    },
  };
}
