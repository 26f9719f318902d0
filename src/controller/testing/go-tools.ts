// The small Go commands under e2e/tools that judge a status the way GitOps tools do (kstatus, Argo CD's
// Lua health check), built once into .e2e/bin by e2e/tools/build-go-tool.sh.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { repoRoot } from "../../testing/repo.js";

export type GoTool = { path: string; skip: false } | { path: undefined; skip: string };

/** Builds e2e/tools/<name> (a no-op when built); skips only when Go is not installed. */
export function goTool(name: "kstatus" | "argolua"): GoTool {
  const go = spawnSync("go", ["version"], { stdio: "ignore" });
  if (go.error || go.status !== 0)
    return { path: undefined, skip: `the Go toolchain is not installed (needed to build e2e/tools/${name})` };
  const r = spawnSync("bash", [join(repoRoot, "e2e/tools/build-go-tool.sh"), name], {
    encoding: "utf8",
    timeout: 600_000,
  });
  if (r.status !== 0) throw new Error(`building e2e/tools/${name} failed:\n${r.stderr.slice(-3000)}`);
  return { path: r.stdout.trim(), skip: false };
}

/** Runs a built tool with a JSON object on stdin and parses the JSON it prints. */
export function runTool<T>(path: string, args: string[], input: unknown): T {
  const r = spawnSync(path, args, { input: JSON.stringify(input), encoding: "utf8", timeout: 30_000 });
  if (r.status !== 0) throw new Error(`${path} exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
