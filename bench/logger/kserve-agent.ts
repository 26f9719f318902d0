// KServe's agent (the `kserve/agent` sidecar: request/response logger in front of a model server),
// built from the Go module proxy by the bench, never by the unit tests. bench/logger/kserve-agent/ is a
// module that requires github.com/kserve/kserve v0.16.0 with KServe's own controller-runtime
// replace; `go build github.com/kserve/kserve/cmd/agent` from there builds the real agent.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const MODULE_DIR = resolve("bench/logger/kserve-agent");

/** The agent binary, built once per go.mod/go.sum into cacheDir; the reason when it cannot be built. */
export function buildAgent(cacheDir: string, log: (msg: string) => void): { bin: string } | { skip: string } {
  const bin = join(resolve(cacheDir), "agent");
  const stamp = `${bin}.stamp`;
  const key = createHash("sha256")
    .update(readFileSync(join(MODULE_DIR, "go.mod")))
    .update(readFileSync(join(MODULE_DIR, "go.sum")))
    .digest("hex");
  if (existsSync(bin) && existsSync(stamp) && readFileSync(stamp, "utf8") === key) return { bin };
  mkdirSync(cacheDir, { recursive: true });
  log("building the KServe agent (go build github.com/kserve/kserve/cmd/agent; minutes the first time)");
  try {
    execFileSync("go", ["build", "-o", bin, "github.com/kserve/kserve/cmd/agent"], {
      cwd: MODULE_DIR,
      stdio: ["ignore", "ignore", "pipe"],
      timeout: 40 * 60_000,
    });
  } catch (err) {
    const e = err as Error & { stderr?: Buffer };
    const why = e.stderr?.toString().trim().split("\n").slice(-5).join(" | ") || e.message.split("\n")[0];
    return { skip: `go build github.com/kserve/kserve/cmd/agent failed: ${why}` };
  }
  writeFileSync(stamp, key);
  return { bin };
}

/**
 * Starts the agent as KServe runs it in front of a predictor with logging on: it listens on `port`,
 * proxies to 127.0.0.1:componentPort and sends every request and response as a CloudEvent to logUrl.
 * SERVING_READINESS_PROBE is required by its env parsing; empty means "always ready".
 */
export function startAgent(
  bin: string,
  port: number,
  componentPort: number,
  logUrl: string,
  env: Record<string, string> = {},
): ChildProcess {
  return spawn(
    bin,
    [
      "--port",
      String(port),
      "--component-port",
      String(componentPort),
      "--log-url",
      logUrl,
      "--log-mode",
      "all",
    ],
    { stdio: "ignore", env: { ...process.env, ...env, SERVING_READINESS_PROBE: "" } },
  );
}
