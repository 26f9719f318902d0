// Runs the real kubectl and helm binaries against the e2e cluster.
import { spawn } from "node:child_process";
import { clusterEnv, type ClusterEnv } from "./env.js";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Written to the child's stdin (e.g. a manifest for `kubectl apply -f -`). */
  input?: string;
  /** Resolve with the non-zero exit code instead of throwing. */
  allowFailure?: boolean;
  /** Kill the child after this long; a guard against hangs, not an assertion. */
  timeoutMs?: number;
  /** Environment for the child (default: this process's). */
  env?: NodeJS.ProcessEnv;
}

export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly result: RunResult,
  ) {
    super(`${command} exited ${result.code}: ${result.stderr.trim() || result.stdout.trim()}`);
    this.name = "CommandError";
  }
}

export function run(file: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const command = [file, ...args].join(" ");
  return new Promise((resolvePromise, reject) => {
    const child = spawn(file, args, {
      stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      timeout: opts.timeoutMs ?? 120_000,
      env: opts.env ?? process.env,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on("data", (b: Buffer) => out.push(b));
    child.stderr?.on("data", (b: Buffer) => err.push(b));
    child.on("error", (e) =>
      reject(new Error(`could not run ${file}: ${e.message} (is it built? run npm run cluster:up)`)),
    );
    child.on("close", (code, signal) => {
      const result = {
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
      };
      if (result.code !== 0 && !opts.allowFailure) reject(new CommandError(command, result));
      else resolvePromise(result);
    });
    if (child.stdin) {
      // A child that exits without reading its input must not crash the test with EPIPE.
      child.stdin.on("error", () => {});
      child.stdin.end(opts.input);
    }
  });
}

/** `kubectl --kubeconfig=<e2e kubeconfig> ...args`, resolving with stdout. */
export async function kubectl(
  args: readonly string[],
  opts: RunOptions = {},
  env: ClusterEnv = clusterEnv(),
) {
  return run(env.kubectl, [`--kubeconfig=${env.kubeconfig}`, ...args], opts);
}

/** `kubectl ... -o json` parsed. */
export async function kubectlJson<T = unknown>(args: readonly string[], env: ClusterEnv = clusterEnv()) {
  const r = await kubectl([...args, "-o", "json"], {}, env);
  return JSON.parse(r.stdout) as T;
}

/** `kubectl apply -f -` with the given manifest text (YAML or JSON, one or more documents). */
export async function kubectlApply(
  manifest: string,
  args: readonly string[] = [],
  env: ClusterEnv = clusterEnv(),
) {
  return kubectl(["apply", "-f", "-", ...args], { input: manifest }, env);
}

/** `helm --kubeconfig=<e2e kubeconfig> ...args`. */
export async function helm(args: readonly string[], opts: RunOptions = {}, env: ClusterEnv = clusterEnv()) {
  return run(env.helm, [`--kubeconfig=${env.kubeconfig}`, ...args], opts);
}
