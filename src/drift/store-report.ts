// Hands a finished drift report to the collector, which keeps it past the job's pod (see
// src/collector/reports.ts); the returned URL goes into status.drift.reportRef.
import { request } from "undici";

/** The collector's report endpoint for a base URL (or the endpoint itself). */
export function reportsEndpoint(url: string): URL {
  const u = new URL(url);
  if (!u.pathname.endsWith("/v1/reports")) u.pathname = u.pathname.replace(/\/$/, "") + "/v1/reports";
  u.search = "";
  return u;
}

/** POSTs the report; returns the absolute URL it can be read back from. Throws with the answer's text. */
export async function storeReport(
  url: string,
  text: string,
  signal?: AbortSignal,
  token?: string,
): Promise<string> {
  const endpoint = reportsEndpoint(url);
  const res = await request(endpoint, {
    method: "POST",
    body: text,
    headers: {
      "content-type": "application/json",
      ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}),
    },
    signal,
    headersTimeout: 30_000,
    bodyTimeout: 30_000,
  });
  const body = await res.body.text();
  if (res.statusCode !== 201)
    throw new Error(`POST ${endpoint.href} answered ${res.statusCode}: ${body.slice(0, 300)}`);
  const { path } = JSON.parse(body) as { path: string };
  return new URL(path, endpoint).href;
}
