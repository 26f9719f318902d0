// Restarts the bundled cluster's kube-apiserver with the same command line, keeping down.sh's pid file right.
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { kubectl, repoRoot, waitFor } from "../lib/index.js";

export async function restartApiServer(): Promise<void> {
  const state = join(process.env.E2E_HOME ?? join(repoRoot, ".e2e"), "cluster");
  const pidFile = join(state, "pids", "kube-apiserver.pid");
  const pid = Number(readFileSync(pidFile, "utf8").trim());
  const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  const cwd = readlinkSync(`/proc/${pid}/cwd`);
  // A crash, not a graceful drain (which can hold watches open for a minute): SIGKILL.
  process.kill(pid, "SIGKILL");
  await waitFor(
    "kube-apiserver exited",
    () => {
      // Gone, or a zombie nobody reaps (its parent was the setsid'd start script).
      try {
        return /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
      } catch {
        return true;
      }
    },
    { timeoutMs: 60_000 },
  );
  await sleep(2000); // long enough for clients to see connection errors
  const log = openSync(join(state, "logs", "kube-apiserver.log"), "a");
  const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ["ignore", log, log], cwd });
  closeSync(log);
  child.unref();
  writeFileSync(pidFile, `${child.pid}\n`);
  await waitFor(
    "kube-apiserver ready again",
    async () => (await kubectl(["get", "--raw", "/readyz"], { allowFailure: true })).code === 0,
    { timeoutMs: 120_000 },
  );
}
