// Closed-loop load generator: N concurrent keep-alive connections (undici Pool), fixed duration.
// Usage: load.ts URL METHOD CONCURRENCY SECONDS [BODY_FILE [JSON_LENGTH]]; prints {requests, rps, p50, p99,
// errors} (ms) and clientCpu, the share of one core this generator used: near 1, it (not the server) is the
// limit. With JSON_LENGTH the body is a binary tensor data request, sent as tritonclient sends it.
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { Pool } from "undici";

const [url, method, concArg, secondsArg, bodyFile, jsonLength] = process.argv.slice(2);
const concurrency = Number(concArg);
const seconds = Number(secondsArg);
const target = new URL(url!);
const body = bodyFile ? readFileSync(bodyFile) : undefined;
const pool = new Pool(target.origin, { connections: concurrency, pipelining: 1, keepAliveTimeout: 60_000 });
const lat: number[] = [];
const statuses = new Map<number, number>();
let errors = 0;
const end = performance.now() + seconds * 1000;

async function loop(): Promise<void> {
  while (performance.now() < end) {
    const t0 = performance.now();
    try {
      const res = await pool.request({
        path: target.pathname,
        method: method as "GET" | "POST",
        body,
        headers: jsonLength
          ? { "inference-header-content-length": jsonLength }
          : body
            ? { "content-type": "application/json" }
            : {},
      });
      await res.body.arrayBuffer();
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      if (res.statusCode !== 200) errors++;
      else lat.push(performance.now() - t0);
    } catch {
      errors++;
    }
  }
}

const started = performance.now();
const cpu0 = process.cpuUsage();
await Promise.all(Array.from({ length: concurrency }, loop));
const elapsed = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpu0);
await pool.close();
lat.sort((a, b) => a - b);
const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? NaN;
process.stdout.write(
  JSON.stringify({
    requests: lat.length,
    rps: lat.length / elapsed,
    p50: pct(0.5),
    p99: pct(0.99),
    errors,
    clientCpu: (cpu.user + cpu.system) / 1e6 / elapsed,
    statuses: Object.fromEntries(statuses),
  }) + "\n",
);
