// The batch run's status report: status.batch.lastRun by server-side apply under its own field
// manager, and an Event, checked against a small recording API server (node:http).
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer, type IncomingMessage } from "node:http";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { BatchRunStatus } from "../api/v1alpha1/index.js";
import { mlpModel, tempDir, writeModel } from "../testing/onnx/builders.js";
import { BATCH_FIELD_MANAGER, buildEvent, buildStatusPatch, finishedRun } from "./status-patch.js";

const dir = tempDir("modelship-batch-status-");
after(() => rmSync(dir, { recursive: true, force: true }));
const modelPath = writeModel(mlpModel({ layers: [3, 4, 2], seed: 1 }), dir, "m.onnx");

interface Call {
  method: string;
  path: string;
  query: URLSearchParams;
  contentType?: string;
  body?: any;
}

/** An API server that knows one ModelDeployment and records every call. */
async function apiServer(lastRunId?: string) {
  const calls: Call[] = [];
  const read = async (req: IncomingMessage) => {
    let s = "";
    for await (const chunk of req) s += chunk;
    return s ? JSON.parse(s) : undefined;
  };
  const server = createServer(async (req, res) => {
    const url = new URL(req.url!, "http://x");
    const body = await read(req);
    calls.push({
      method: req.method!,
      path: url.pathname,
      query: url.searchParams,
      contentType: req.headers["content-type"],
      body,
    });
    res.setHeader("content-type", "application/json");
    if (req.method === "GET")
      return res.end(
        JSON.stringify({
          metadata: { name: "iris", namespace: "ml", uid: "uid-1", generation: 3 },
          status: lastRunId ? { batch: { lastRun: { runId: lastRunId, outcome: "Running" } } } : {},
        }),
      );
    res.end(JSON.stringify(body ?? {}));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  const kubeconfig = join(dir, `kubeconfig-${port}`);
  writeFileSync(
    kubeconfig,
    [
      "apiVersion: v1",
      "kind: Config",
      // plain http needs insecure-skip-tls-verify in @kubernetes/client-node
      "clusters: [{name: c, cluster: {server: 'http://127.0.0.1:" +
        port +
        "', insecure-skip-tls-verify: true}}]",
      "users: [{name: u, user: {token: t0k3n}}]",
      "contexts: [{name: x, context: {cluster: c, user: u}}]",
      "current-context: x",
    ].join("\n"),
  );
  return { calls, kubeconfig, close: () => new Promise((r) => server.close(r)) };
}

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = spawn(process.execPath, ["--import", "tsx", "bin/dev.ts", "batch", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  p.stdout.on("data", (d) => (stdout += d));
  p.stderr.on("data", (d) => (stderr += d));
  return new Promise((resolve) => p.on("exit", (code) => resolve({ code: code ?? -1, stdout, stderr })));
}

const statusPath = "/apis/modelship.io/v1alpha1/namespaces/ml/modeldeployments/iris/status";

test("a run marks itself Running, then writes its outcome and an Event, as modelship-batch", async () => {
  const api = await apiServer();
  try {
    const input = join(dir, "rows.jsonl");
    writeFileSync(
      input,
      [0, 1, 2].map((i) => JSON.stringify({ id: i, input: [i, 1, 2] })).join("\n") + "\n{bad\n",
    );
    const out = join(dir, "out.jsonl");
    const r = await cli([
      "--model",
      `m=${modelPath}`,
      "--input",
      input,
      "--output",
      out,
      "--run-id",
      "iris-batch-29000000",
      "--namespace",
      "ml",
      "--deployment",
      "iris",
      "--kubeconfig",
      api.kubeconfig,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const applies = api.calls.filter((c) => c.method === "PATCH");
    for (const c of applies) {
      assert.equal(c.contentType, "application/apply-patch+yaml");
      assert.equal(c.query.get("fieldManager"), BATCH_FIELD_MANAGER);
      assert.equal(c.query.get("force"), "true");
    }
    assert.deepEqual(
      applies.map((c) => c.path),
      [statusPath, statusPath, "/api/v1/namespaces/ml/events/iris.batch.iris-batch-29000000"],
    );
    const [running, done] = applies.map((c) => c.body.status?.batch?.lastRun);
    assert.equal(running.outcome, "Running");
    assert.equal(running.runId, "iris-batch-29000000");
    assert.ok(BatchRunStatus.safeParse(done).success, JSON.stringify(done));
    assert.deepEqual(
      { ...done, startedAt: undefined, finishedAt: undefined },
      {
        runId: "iris-batch-29000000",
        outcome: "Succeeded",
        shards: 1,
        rows: 4,
        predicted: 3,
        rejected: 1,
        startedAt: undefined,
        finishedAt: undefined,
        output: out,
        rejects: join(dir, "out.rejects.jsonl"),
      },
    );
    const event = applies[2]!.body;
    assert.equal(event.involvedObject.uid, "uid-1");
    assert.equal(event.reason, "BatchSucceeded");
    assert.match(event.message, /3 of 4 rows predicted, 1 rejected/);
  } finally {
    await api.close();
  }
});

test("a shard that fails for good reports Failed with the reason; one with retries left reports nothing", async () => {
  const api = await apiServer("iris-batch-1");
  try {
    const common = [
      "--output",
      join(dir, "never.jsonl"),
      "--run-id",
      "iris-batch-1",
      "--namespace",
      "ml",
      "--deployment",
      "iris",
      "--kubeconfig",
      api.kubeconfig,
      "--shards",
      "2",
      "--shard-index",
      "1",
      "--shard-retries",
      "2",
    ];
    // a Kubernetes field reference to an annotation not set yet arrives as an empty value
    const retrying = await cli([
      "--model",
      `m=${modelPath}`,
      "--input",
      join(dir, "none.jsonl"),
      ...common,
      "--shard-failures",
      "",
    ]);
    assert.equal(retrying.code, 1);
    assert.deepEqual(
      api.calls.filter((c) => c.method === "PATCH"),
      [],
      "another shard already marked the run Running, and a failure with retries left is no outcome",
    );
    const broken = join(dir, "broken.onnx");
    writeFileSync(broken, "not a model");
    const input = join(dir, "one.jsonl");
    writeFileSync(input, JSON.stringify({ id: 1, input: [1, 2, 3] }) + "\n");
    const last = await cli(["--model", `m=${broken}`, ...common, "--input", input, "--shard-failures", "2"]);
    assert.equal(last.code, 3, "a model that does not load fails for good at once");
    assert.match(last.stderr, /failed to load model m@/);
    const lastRun = api.calls.filter((c) => c.method === "PATCH" && c.path === statusPath)[0]?.body.status
      .batch.lastRun;
    assert.equal(lastRun.outcome, "Failed");
    assert.match(lastRun.message, /^shard 1 of 2: failed to load model m@/);
    assert.ok(BatchRunStatus.safeParse(lastRun).success);
  } finally {
    await api.close();
  }
});

test("the status patch carries the whole lastRun; long fields are cut to the schema's limits", () => {
  const lastRun = finishedRun({ runId: "r", outcome: "Failed", message: "x".repeat(5000) });
  assert.equal(lastRun.message!.length, 1024);
  assert.deepEqual(buildStatusPatch({ namespace: "ml", name: "iris" }, lastRun), {
    apiVersion: "modelship.io/v1alpha1",
    kind: "ModelDeployment",
    metadata: { name: "iris", namespace: "ml" },
    status: { batch: { lastRun } },
  });
  const e = buildEvent({ namespace: "ml", name: "iris" }, lastRun, new Date(0));
  assert.equal(e.type, "Warning");
  assert.equal(e.reason, "BatchFailed");
  assert.equal(e.metadata.name, "iris.batch.r");
});
