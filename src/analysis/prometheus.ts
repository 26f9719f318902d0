import { request, type Dispatcher } from "undici";

/** Thrown for a Prometheus that answers with an error, or not at all. */
export class PrometheusError extends Error {
  override name = "PrometheusError";
}

export interface PrometheusOptions {
  /** Base URL, e.g. http://prometheus.monitoring.svc:9090 */
  url: string;
  timeoutMs?: number;
  dispatcher?: Dispatcher;
  /** Extra headers, e.g. Authorization for a hosted Prometheus. */
  headers?: Record<string, string>;
}

interface QueryResponse {
  status: "success" | "error";
  errorType?: string;
  error?: string;
  data?: { resultType: string; result: unknown };
}

/** A thin client for the Prometheus HTTP API's instant queries (GET /api/v1/query). */
export class PrometheusClient {
  constructor(private readonly opts: PrometheusOptions) {}

  /**
   * Runs an instant query that must yield one number: a scalar, or a vector of at most one series.
   * No series, or NaN/Inf (0/0 without traffic) -> undefined, which analysis treats as no data.
   */
  async queryNumber(promql: string, time?: Date): Promise<number | undefined> {
    const params = new URLSearchParams({ query: promql });
    if (time) params.set("time", String(time.getTime() / 1000));
    const url = `${this.opts.url.replace(/\/+$/, "")}/api/v1/query?${params.toString()}`;
    const timeoutMs = this.opts.timeoutMs ?? 10_000;
    let status: number;
    let text: string;
    try {
      const res = await request(url, {
        method: "GET",
        headers: { accept: "application/json", ...(this.opts.headers ?? {}) },
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal: AbortSignal.timeout(timeoutMs),
        ...(this.opts.dispatcher ? { dispatcher: this.opts.dispatcher } : {}),
      });
      status = res.statusCode;
      text = await res.body.text();
    } catch (err) {
      throw new PrometheusError(`Prometheus at ${this.opts.url} did not answer: ${(err as Error).message}`);
    }
    let body: QueryResponse;
    try {
      body = JSON.parse(text) as QueryResponse;
    } catch {
      throw new PrometheusError(
        `Prometheus answered ${status} with a body that is not JSON: ${text.slice(0, 200)}`,
      );
    }
    if (body.status !== "success" || !body.data) {
      throw new PrometheusError(
        `Prometheus query failed (${status} ${body.errorType ?? ""}): ${body.error ?? text.slice(0, 200)}`,
      );
    }
    return numberOf(body.data, promql);
  }
}

function numberOf(data: { resultType: string; result: unknown }, promql: string): number | undefined {
  let raw: string | undefined;
  if (data.resultType === "scalar") {
    raw = (data.result as [number, string])[1];
  } else if (data.resultType === "vector") {
    const series = data.result as { metric: Record<string, string>; value: [number, string] }[];
    if (series.length === 0) return undefined;
    if (series.length > 1) {
      throw new PrometheusError(
        `query returned ${series.length} series, want one (aggregate it with sum, max, ...): ${promql}`,
      );
    }
    raw = series[0]!.value[1];
  } else {
    throw new PrometheusError(`query returned a ${data.resultType}, want a scalar or one series: ${promql}`);
  }
  const n = Number(raw);
  return Number.isFinite(n) ? n : undefined;
}
