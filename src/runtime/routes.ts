// Maps method + path to a protocol operation; pure, so the URL grammar is table-tested.

export type Route =
  | { kind: "live" }
  | { kind: "ready" }
  | { kind: "server-metadata" }
  | { kind: "metrics" }
  | { kind: "model-metadata"; model: string; version?: string }
  | { kind: "model-ready"; model: string; version?: string }
  | { kind: "infer"; model: string; version?: string }
  | { kind: "model-config"; model: string; version?: string }
  | { kind: "model-stats"; model: string; version?: string }
  | { kind: "repository-index" }
  | { kind: "feedback" }
  | { kind: "v1-model"; model: string }
  | { kind: "v1-predict"; model: string }
  | { kind: "method-not-allowed"; allow: string }
  | { kind: "not-found" };

const MODEL = /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?(\/ready|\/infer|\/config|\/stats)?$/;
const V1 = /^\/v1\/models\/([^/:]+)(:predict)?$/;

function decode(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

export function matchRoute(method: string, url: string): Route {
  const q = url.indexOf("?");
  const path = q === -1 ? url : url.slice(0, q);
  const get = method === "GET" || method === "HEAD";
  const need = (want: "GET" | "POST", route: Route): Route =>
    (want === "GET" ? get : method === "POST") ? route : { kind: "method-not-allowed", allow: want };
  switch (path) {
    case "/v2/health/live":
      return need("GET", { kind: "live" });
    case "/v2/health/ready":
      return need("GET", { kind: "ready" });
    case "/v2":
    case "/v2/":
      return need("GET", { kind: "server-metadata" });
    case "/metrics":
      return need("GET", { kind: "metrics" });
    case "/v2/repository/index":
      return need("POST", { kind: "repository-index" });
    case "/v2/feedback":
      return need("POST", { kind: "feedback" });
  }
  const m = MODEL.exec(path);
  if (m) {
    const model = decode(m[1]!);
    const version = m[2] === undefined ? undefined : decode(m[2]);
    if (model === null || version === null) return { kind: "not-found" };
    const v = version === undefined ? {} : { version };
    if (m[3] === "/infer") return need("POST", { kind: "infer", model, ...v });
    if (m[3] === "/ready") return need("GET", { kind: "model-ready", model, ...v });
    if (m[3] === "/config") return need("GET", { kind: "model-config", model, ...v });
    if (m[3] === "/stats") return need("GET", { kind: "model-stats", model, ...v });
    return need("GET", { kind: "model-metadata", model, ...v });
  }
  const v1 = V1.exec(path);
  if (v1) {
    const model = decode(v1[1]!);
    if (model === null) return { kind: "not-found" };
    return v1[2] ? need("POST", { kind: "v1-predict", model }) : need("GET", { kind: "v1-model", model });
  }
  return { kind: "not-found" };
}
