// A stand-in for a model server that is not modelship's (examples/custom-container.yaml): a tiny Open
// Inference Protocol v2 server. Every model name answers; POST /v2/models/<name>/infer returns, for each
// input tensor, the sum of each row (shape [rows, ...] -> [rows]) as FP64 output "<input>_sum".
// Fault injection for the rollout tests: FAIL_PERCENT=p answers p% of inference requests with a 500,
// evenly spread (the n-th fails when floor(n*p/100) steps up); DELAY_MS=d waits d ms before each answer.
// MODEL_VERSION names the answers' model_version (default "1"), so a test tells revisions apart.
import { createServer } from "node:http";

const port = Number(process.env.PORT ?? 8080);
const failPercent = Math.min(100, Math.max(0, Number(process.env.FAIL_PERCENT ?? 0)));
const delayMs = Math.max(0, Number(process.env.DELAY_MS ?? 0));
let inferences = 0;
const failsNow = () => {
  inferences++;
  return Math.floor((inferences * failPercent) / 100) > Math.floor(((inferences - 1) * failPercent) / 100);
};
const json = (res, status, body) => {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
};

function infer(name, req) {
  if (!Array.isArray(req?.inputs) || req.inputs.length === 0) throw new Error("request has no inputs");
  const outputs = req.inputs.map((t) => {
    const data = (t.data ?? []).flat(Infinity).map(Number);
    const rows = Array.isArray(t.shape) && t.shape.length > 1 ? t.shape[0] : 1;
    const width = rows > 0 ? data.length / rows : 0;
    const sums = Array.from({ length: rows }, (_, r) =>
      data.slice(r * width, (r + 1) * width).reduce((a, b) => a + b, 0),
    );
    return { name: `${t.name}_sum`, datatype: "FP64", shape: [rows], data: sums };
  });
  return {
    model_name: name,
    model_version: process.env.MODEL_VERSION ?? "1",
    ...(req.id ? { id: req.id } : {}),
    outputs,
  };
}

const server = createServer((req, res) => {
  const url = new URL(req.url, "http://localhost");
  if (req.method === "GET" && ["/healthz", "/v2/health/live", "/v2/health/ready"].includes(url.pathname))
    return json(res, 200, { ready: true });
  if (req.method === "GET" && url.pathname === "/v2")
    return json(res, 200, { name: "custom-echo-server", version: "1", extensions: [] });
  const m = url.pathname.match(/^\/v2\/models\/([^/]+)(?:\/versions\/[^/]+)?(\/ready|\/infer)?$/);
  if (!m) return json(res, 404, { error: `not found: ${req.method} ${url.pathname}` });
  const name = decodeURIComponent(m[1]);
  if (req.method === "GET" && m[2] === "/ready") return json(res, 200, { name, ready: true });
  if (req.method === "GET" && !m[2])
    return json(res, 200, { name, versions: ["1"], platform: "custom", inputs: [], outputs: [] });
  if (req.method !== "POST" || m[2] !== "/infer") return json(res, 405, { error: "method not allowed" });
  let body = "";
  req.setEncoding("utf8");
  req.on("data", (c) => (body += c));
  req.on("end", () => {
    const answer = () => {
      if (failsNow()) return json(res, 500, { error: "injected failure (FAIL_PERCENT)" });
      try {
        json(res, 200, infer(name, JSON.parse(body)));
      } catch (e) {
        json(res, 400, { error: e.message });
      }
    };
    if (delayMs > 0) setTimeout(answer, delayMs);
    else answer();
  });
});

server.listen(port, () => console.log(`custom-echo-server listening on :${port}`));
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => server.close(() => process.exit(0)));
