// Requests to real model pods, as the e2e stories send them: Open Inference Protocol v2 over HTTP to
// a Service, a pod or the Gateway, iris-like rows, and the binomial check for traffic shares.
import { request, type Dispatcher } from "undici";
import { irisCentroids } from "../../src/testing/onnx/iris.js";
import { kubectlJson } from "./exec.js";

type Obj = Record<string, any>;

export interface Prediction {
  ok: boolean;
  status: number;
  eventId?: string;
  body?: Obj;
  /** Why no HTTP answer came (status 0). */
  error?: string;
  ms: number;
}

export interface PredictOptions {
  /** e.g. an Agent that opens a connection per request, so kube-proxy picks a pod for each. */
  dispatcher?: Dispatcher;
  /** Extra request headers: Host for a Gateway's hostname routing, a cohort header for A/B. */
  headers?: Record<string, string>;
  /** Input tensor name and width (iris: "input", 4). */
  input?: { name: string; width: number };
  /** How long to wait for the answer (default 10 s); a scaled-to-zero model's first answer takes longer. */
  timeoutMs?: number;
}

/** POST /v2/models/<model>/infer with `rows`; never throws: a failed request is `ok: false` with why. */
export async function predict(
  base: string,
  model: string,
  rows: number[][],
  opts: PredictOptions = {},
): Promise<Prediction> {
  const input = opts.input ?? { name: "input", width: 4 };
  const t0 = performance.now();
  try {
    // undici's request, not fetch: fetch drops a Host header, which Gateway hostname routing needs
    const r = await request(`${base}/v2/models/${model}/infer`, {
      ...(opts.dispatcher ? { dispatcher: opts.dispatcher } : {}),
      method: "POST",
      headers: { "content-type": "application/json", ...opts.headers },
      body: JSON.stringify({
        inputs: [
          { name: input.name, shape: [rows.length, input.width], datatype: "FP32", data: rows.flat() },
        ],
      }),
      signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
    });
    const text = await r.body.text();
    let body: Obj | undefined;
    try {
      body = text ? (JSON.parse(text) as Obj) : undefined;
    } catch {
      body = { text };
    }
    const eventId = r.headers["x-modelship-event-id"];
    return {
      ok: r.statusCode >= 200 && r.statusCode < 300,
      status: r.statusCode,
      eventId: typeof eventId === "string" ? eventId : undefined,
      body,
      ms: performance.now() - t0,
    };
  } catch (err) {
    return { ok: false, status: 0, error: String((err as Error).cause ?? err), ms: performance.now() - t0 };
  }
}

let seed = 3;
const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
/** A flower near one of the class means (f32-exact values), shifted along sepal length by `shift` cm. */
export function flower(i: number, shift = 0): number[] {
  const row = irisCentroids[i % 3]!.map((m) => Math.fround(m + (rand() - 0.5) * 0.8));
  row[0] = Math.fround(row[0]! + shift);
  return row;
}

/** http://<clusterIP>:<port> of a Service. */
export async function serviceUrl(name: string, namespace: string): Promise<string> {
  const svc = await kubectlJson<Obj>(["get", "svc", name, "-n", namespace]);
  return `http://${svc.spec.clusterIP}:${svc.spec.ports[0].port}`;
}

/**
 * The 99.9% interval of a binomial count (normal approximation, z = 3.29): where `k` of `n` draws with
 * probability `p` lands but once in a thousand runs.
 */
export function binomialInterval(n: number, p: number): [number, number] {
  const sd = Math.sqrt(n * p * (1 - p));
  return [Math.max(0, n * p - 3.29 * sd), Math.min(n, n * p + 3.29 * sd)];
}

/** A counter's samples summed by one label, from Prometheus text exposition. */
function sumBy(text: string, metric: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${metric}{`) && !line.startsWith(`${metric} `)) continue;
    const value = Number(line.slice(line.lastIndexOf(" ") + 1));
    const key = new RegExp(`${label}="([^"]*)"`).exec(line)?.[1] ?? "";
    out[key] = (out[key] ?? 0) + value;
  }
  return out;
}

/**
 * The shadow copies the pods matching `selector` made so far (modelship_mirror_copies_total, read from each
 * pod's own metrics port): by result summed over the pods, and each pod's total.
 */
export async function mirrorCopies(
  namespace: string,
  selector: string,
): Promise<{ byResult: Record<string, number>; perPod: number[] }> {
  const pods = (
    await kubectlJson<{ items: Obj[] }>(["get", "pods", "-n", namespace, "-l", selector])
  ).items.filter((p) => p.status?.phase === "Running" && p.status.podIP && !p.metadata.deletionTimestamp);
  const byResult: Record<string, number> = {};
  const perPod: number[] = [];
  for (const p of pods) {
    const port = p.metadata.annotations?.["prometheus.io/port"];
    const r = await request(`http://${p.status.podIP}:${port}/metrics`, {
      signal: AbortSignal.timeout(5_000),
    });
    const counts = sumBy(await r.body.text(), "modelship_mirror_copies_total", "result");
    perPod.push(Object.values(counts).reduce((a, b) => a + b, 0));
    for (const [k, v] of Object.entries(counts)) byResult[k] = (byResult[k] ?? 0) + v;
  }
  return { byResult, perPod };
}
