// Test helpers: real CLI processes on loopback, found by the JSON log line that says where they listen.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

export interface Cli {
  child: ChildProcess;
  /** Every JSON log line seen so far. */
  logs: Record<string, unknown>[];
  /** Lines on stdout (the stdout: sink writes events there). */
  stdout: string[];
  /** Resolves with the first log line whose msg equals msg (already seen or future). */
  waitForLog(msg: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after graceMs. */
  stop(graceMs?: number): Promise<number | null>;
}

export function tmp(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `modelship-${prefix}-`));
}

/** How to run the CLI: from sources by default; the bench passes a compiled launcher instead. */
export const DEV_LAUNCHER = ["--import", "tsx", "bin/dev.ts"];

export function startCli(args: string[], launcher: string[] = DEV_LAUNCHER): Cli {
  const child = spawn(process.execPath, [...launcher, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: Record<string, unknown>[] = [];
  const stdout: string[] = [];
  const waiters: { msg: string; resolve: (l: Record<string, unknown>) => void }[] = [];
  const stderrText: string[] = [];
  createInterface({ input: child.stderr! }).on("line", (line) => {
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(line) as Record<string, unknown>;
    } catch {
      stderrText.push(line);
      return;
    }
    logs.push(parsed);
    for (const w of [...waiters]) {
      if (parsed.msg === w.msg) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(parsed);
      }
    }
  });
  createInterface({ input: child.stdout! }).on("line", (line) => stdout.push(line));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return {
    child,
    logs,
    stdout,
    exited,
    waitForLog(msg, timeoutMs = 60_000) {
      const seen = logs.find((l) => l.msg === msg);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => {
          reject(
            new Error(
              `no "${msg}" log from ${args[0]} in ${timeoutMs} ms; stderr: ${stderrText.join("\n").slice(-2000)}`,
            ),
          );
        }, timeoutMs);
        void exited.then((code) =>
          reject(
            new Error(`${args[0]} exited (${code}) before "${msg}": ${stderrText.join("\n").slice(-2000)}`),
          ),
        );
        waiters.push({
          msg,
          resolve: (l) => {
            clearTimeout(t);
            resolve(l);
          },
        });
      });
    },
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), graceMs);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}

/**
 * Starts `modelship serve` on a free port and waits until its models are ready. HTTP only: gRPC's fixed
 * default port would collide between servers running side by side (`extra` may turn it on again).
 */
export async function startServe(
  models: string[],
  launcher = DEV_LAUNCHER,
  extra: string[] = [],
): Promise<{ cli: Cli; url: string }> {
  const cli = startCli(
    [
      "serve",
      ...models.flatMap((m) => ["--model", m]),
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--grpc-port",
      "off",
      ...extra,
    ],
    launcher,
  );
  const started = await cli.waitForLog("Started model server");
  await cli.waitForLog("Became ready", 120_000);
  return { cli, url: started.url as string };
}

export async function startLoggerCli(
  args: string[],
  launcher = DEV_LAUNCHER,
): Promise<{ cli: Cli; url: string }> {
  const cli = startCli(["logger", "--listen", "127.0.0.1:0", ...args], launcher);
  const started = await cli.waitForLog("Started inference logger");
  return { cli, url: started.url as string };
}

export async function startCollectorCli(
  dataDir: string,
  port = 0,
  extra: string[] = [],
  launcher = DEV_LAUNCHER,
): Promise<{ cli: Cli; url: string }> {
  const cli = startCli(
    ["collector", "--listen", `127.0.0.1:${port}`, "--data-dir", dataDir, ...extra],
    launcher,
  );
  const started = await cli.waitForLog("Started event collector");
  return { cli, url: started.url as string };
}

/** Polls until check() returns a value other than undefined, or fails after timeoutMs. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** GET the collector's export for a model as parsed events. */
export async function exportEvents(
  collectorUrl: string,
  model: string,
  query = "",
): Promise<Record<string, unknown>[]> {
  const res = await fetch(`${collectorUrl}/v1/events?model=${encodeURIComponent(model)}${query}`);
  if (res.status !== 200) throw new Error(`export answered ${res.status}: ${await res.text()}`);
  const text = await res.text();
  return text
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** A metric's value from Prometheus text, summed over series whose labels include every given label. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name + "{") && !line.startsWith(name + " ")) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}
