// Test helpers for the collector: valid events of a chosen size, and a POST that reports what came back.
import { readFileSync } from "node:fs";
import { buildInferenceEvent } from "../../events/build.js";
import type { ModelshipEvent } from "../../events/schema.js";

/** A valid inference event for model m at time; with padBytes, one input tensor carries that much data. */
export function testEvent(id: string, time: Date | string, padBytes = 0, model = "fraud"): ModelshipEvent {
  const inputs = [
    {
      name: "x",
      datatype: padBytes > 0 ? "BYTES" : "FP32",
      shape: [1],
      data: padBytes > 0 ? ["a".repeat(padBytes)] : [1],
    },
  ];
  return buildInferenceEvent(
    {
      id,
      time: new Date(time),
      path: `/v2/models/${model}/infer`,
      protocol: "v2",
      requestHeaders: {},
      requestBody: Buffer.from(JSON.stringify({ inputs })),
      status: 200,
      responseBody: Buffer.from(
        JSON.stringify({ outputs: [{ name: "y", datatype: "FP32", shape: [1], data: [2] }] }),
      ),
      latencyMs: 1,
      fallback: false,
    },
    {
      model,
      revision: "r",
      variant: "stable",
      features: [],
      redact: [],
      headerAllowlist: [],
      maxPayloadBytes: padBytes + (1 << 20),
      sampleRate: 1,
    },
  );
}

export const ndjson = (events: unknown[]) => events.map((e) => JSON.stringify(e)).join("\n") + "\n";

/** POSTs a batch; the status and parsed answer, or the error's text when the request failed. */
export async function postEvents(
  url: string,
  body: string | Buffer | AsyncIterable<Buffer>,
  token?: string,
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const init: RequestInit & { duplex?: "half" } = {
    method: "POST",
    body: body as RequestInit["body"],
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  };
  if (typeof body !== "string" && !Buffer.isBuffer(body)) init.duplex = "half";
  const res = await fetch(`${url}/v1/events`, init);
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

/** The peak resident set of a process in bytes (VmHWM), Linux only. */
export function peakRss(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}
