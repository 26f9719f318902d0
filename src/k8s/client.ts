import { Counter, type Registry } from "prom-client";
import { Agent, request } from "undici";
import { ApiError } from "./errors.js";
import { loadConnection, type Connection } from "./kubeconfig.js";

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }[];
    creationTimestamp?: string;
    deletionTimestamp?: string;
    managedFields?: unknown;
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

export interface WatchEvent {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: KubeObject;
}

/**
 * Loads a kubeconfig: an explicit file, else KUBECONFIG / ~/.kube/config, else the in-cluster service account
 * (src/k8s/kubeconfig.ts).
 */
export function loadKubeConfig(file?: string): Promise<Connection> {
  return loadConnection(file);
}

/**
 * A thin REST client over undici: JSON in, JSON out, one metric per call by verb and code. The controller,
 * the drift job and the CLI all speak to the API server through this one edge.
 */
export class KubeClient {
  private constructor(
    readonly server: string,
    private readonly agent: Agent,
    private readonly headers: () => Record<string, string>,
    private readonly calls?: Counter<"verb" | "code">,
  ) {}

  static async create(
    connection: Connection | Promise<Connection>,
    registry?: Registry,
  ): Promise<KubeClient> {
    const c = await connection;
    const agent = new Agent({
      connect: {
        ...(c.ca ? { ca: c.ca } : {}),
        ...(c.cert ? { cert: c.cert } : {}),
        ...(c.key ? { key: c.key } : {}),
        rejectUnauthorized: !c.skipTLSVerify,
      },
      keepAliveTimeout: 30_000,
      connections: 32,
    });
    const calls = registry
      ? new Counter({
          name: "modelship_k8s_api_calls_total",
          help: "Kubernetes API calls by verb and HTTP code",
          labelNames: ["verb", "code"] as const,
          registers: [registry],
        })
      : undefined;
    return new KubeClient(c.server, agent, c.headers, calls);
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  private url(path: string, query?: Record<string, string | number | boolean | undefined>): string {
    const q = Object.entries(query ?? {})
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
      .join("&");
    return `${this.server}${path}${q ? `?${q}` : ""}`;
  }

  async request<T = KubeObject>(
    verb: "GET" | "POST" | "PUT" | "PATCH" | "DELETE",
    path: string,
    opts: {
      query?: Record<string, string | number | boolean | undefined>;
      body?: unknown;
      contentType?: string;
      metricVerb?: string;
      signal?: AbortSignal;
    } = {},
  ): Promise<T> {
    const metricVerb = opts.metricVerb ?? verb.toLowerCase();
    let res;
    try {
      res = await request(this.url(path, opts.query), {
        method: verb,
        dispatcher: this.agent,
        headers: {
          ...this.headers(),
          accept: "application/json",
          ...(opts.body !== undefined ? { "content-type": opts.contentType ?? "application/json" } : {}),
        },
        body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
        signal: opts.signal,
        headersTimeout: 30_000,
        bodyTimeout: 60_000,
      });
    } catch (err) {
      this.calls?.inc({ verb: metricVerb, code: "error" });
      throw err;
    }
    this.calls?.inc({ verb: metricVerb, code: String(res.statusCode) });
    const text = await res.body.text();
    if (res.statusCode >= 300) throw apiError(res.statusCode, text, verb, path);
    return (text ? JSON.parse(text) : {}) as T;
  }

  get<T = KubeObject>(
    path: string,
    query?: Record<string, string | number | boolean | undefined>,
  ): Promise<T> {
    return this.request<T>("GET", path, { query });
  }

  /** Server-side apply with one field manager; force takes over fields from other managers we render. */
  apply<T = KubeObject>(path: string, obj: unknown, fieldManager: string): Promise<T> {
    return this.request<T>("PATCH", path, {
      query: { fieldManager, force: true },
      body: obj,
      contentType: "application/apply-patch+yaml",
      metricVerb: "apply",
    });
  }

  mergePatch<T = KubeObject>(path: string, patch: unknown, fieldManager?: string): Promise<T> {
    return this.request<T>("PATCH", path, {
      query: { fieldManager },
      body: patch,
      contentType: "application/merge-patch+json",
    });
  }

  delete(path: string, propagationPolicy: "Background" | "Foreground" = "Background"): Promise<KubeObject> {
    return this.request("DELETE", path, {
      body: { kind: "DeleteOptions", apiVersion: "v1", propagationPolicy },
    });
  }

  /**
   * Opens a watch and hands each event to onEvent until the server closes it, the signal aborts, or no
   * byte (event or bookmark) arrives for stallMs. Resolves on a clean close; rejects on errors.
   */
  async watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    onEvent: (e: WatchEvent) => void,
    opts: { signal: AbortSignal; stallMs: number },
  ): Promise<void> {
    const stall = new AbortController();
    const signal = AbortSignal.any([opts.signal, stall.signal]);
    let timer = setTimeout(() => stall.abort(new Error("watch stalled")), opts.stallMs);
    const bump = () => {
      clearTimeout(timer);
      timer = setTimeout(() => stall.abort(new Error("watch stalled")), opts.stallMs);
    };
    try {
      const res = await request(this.url(path, { ...query, watch: true }), {
        method: "GET",
        dispatcher: this.agent,
        headers: { ...this.headers(), accept: "application/json" },
        signal,
        headersTimeout: 30_000,
        bodyTimeout: 0,
      });
      this.calls?.inc({ verb: "watch", code: String(res.statusCode) });
      if (res.statusCode >= 300) throw apiError(res.statusCode, await res.body.text(), "WATCH", path);
      let buf = "";
      for await (const chunk of res.body) {
        bump();
        buf += (chunk as Buffer).toString("utf8");
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line.trim()) onEvent(JSON.parse(line) as WatchEvent);
        }
      }
    } catch (err) {
      if (opts.signal.aborted) return;
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }
}

function apiError(code: number, text: string, verb: string, path: string): ApiError {
  let reason = "Unknown";
  let message = text.slice(0, 2000);
  try {
    const s = JSON.parse(text) as { reason?: string; message?: string };
    reason = s.reason ?? reason;
    message = s.message ?? message;
  } catch {
    /* not a Status object */
  }
  return new ApiError(code, reason, message, verb, path);
}
