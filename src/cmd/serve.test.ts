import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { credentials, type Client, type ServiceError } from "@grpc/grpc-js";
import { inferenceService } from "../runtime/grpc-server.js";
import { identityModel, slowModel, tempDir, writeModel } from "../testing/onnx/builders.js";

const dir = tempDir("modelship-serve-cli-");

interface Running {
  child: ChildProcess;
  url: string;
  logs: string[];
  exited: Promise<number | null>;
}

/**
 * Starts `modelship serve` on port 0, gRPC on another free port (from sources, or from dist/ with
 * `compiled`) and resolves once it logged its URL.
 */
function serve(...args: string[]): Promise<Running> {
  const compiled = args[0] === "--compiled";
  const entry = compiled ? ["bin/modelship.js"] : ["--import", "tsx", "bin/dev.ts"];
  const child = spawn(
    process.execPath,
    [
      ...entry,
      "serve",
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--grpc-port",
      "0",
      ...args.slice(compiled ? 1 : 0),
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const logs: string[] = [];
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  return new Promise((resolve, reject) => {
    let buf = "";
    child.stderr!.on("data", (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split("\n");
      buf = lines.pop()!;
      for (const l of lines) {
        logs.push(l);
        const m = /"url":"(http:\/\/[^"]+)"/.exec(l);
        if (m) resolve({ child, url: m[1]!, logs, exited });
      }
    });
    void exited.then((code) =>
      reject(new Error(`serve exited ${code} before listening:\n${logs.join("\n")}${buf}`)),
    );
  });
}

async function waitFor<T>(fn: () => Promise<T | undefined>, what: string): Promise<T> {
  for (let i = 0; i < 1200; i++) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A GRPCInferenceService client for the server's gRPC port, once it has logged it. */
async function grpcClient(s: Running): Promise<Client> {
  const url = await waitFor(async () => {
    for (const l of s.logs) {
      const m = /"url":"([^"]+)".*"msg":"Started gRPC server"/.exec(l);
      if (m) return m[1]!;
    }
    return undefined;
  }, "the gRPC server");
  const Service = inferenceService();
  return new Service(url, credentials.createInsecure());
}

function grpcCall(client: Client, method: string, req: object): Promise<Record<string, any>> {
  return new Promise((resolve, reject) =>
    (client as any)[method](req, (err: ServiceError | null, res: Record<string, any>) =>
      err ? reject(err) : resolve(res),
    ),
  );
}

async function readyStatus(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}/v2/health/ready`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

test("a corrupt model file is a clear startup error and a non-zero exit", () => {
  const bad = join(dir, "corrupt.onnx");
  writeFileSync(bad, "this is not a protobuf model");
  const r = spawnSync(
    process.execPath,
    [
      "--import",
      "tsx",
      "bin/dev.ts",
      "serve",
      "--port",
      "0",
      "--grpc-port",
      "0",
      "--host",
      "127.0.0.1",
      "--model",
      `m=${bad}`,
    ],
    {
      encoding: "utf8",
      timeout: 60_000,
    },
  );
  assert.equal(r.status, 1);
  assert.match(r.stderr, /failed to load model m@1: .*(protobuf|parsing|Load model)/i);
});

test("a port already in use is a one-line error and a non-zero exit, no stack trace", async () => {
  const holder = createNetServer();
  await new Promise<void>((r) => holder.listen(0, "127.0.0.1", r));
  const port = (holder.address() as AddressInfo).port;
  try {
    const model = writeModel(identityModel({ dtype: "float32", shape: ["n"] }), dir, "busy.onnx");
    const r = spawnSync(
      process.execPath,
      [
        "--import",
        "tsx",
        "bin/dev.ts",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        String(port),
        "--model",
        `m=${model}`,
      ],
      { encoding: "utf8", timeout: 60_000 },
    );
    assert.equal(r.status, 1, r.stderr);
    assert.equal(
      r.stderr,
      `modelship serve: cannot listen on 127.0.0.1:${port}: address already in use (EADDRINUSE)\n`,
    );
  } finally {
    holder.close();
  }
});

test("a gRPC port already in use is the same one-line error, naming the flag", async () => {
  const holder = createNetServer();
  await new Promise<void>((r) => holder.listen(0, "127.0.0.1", r));
  const port = (holder.address() as AddressInfo).port;
  try {
    const model = writeModel(identityModel({ dtype: "float32", shape: ["n"] }), dir, "busy-grpc.onnx");
    const r = spawnSync(
      process.execPath,
      [
        "--import",
        "tsx",
        "bin/dev.ts",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--grpc-port",
        String(port),
        "--model",
        `m=${model}`,
      ],
      { encoding: "utf8", timeout: 60_000 },
    );
    assert.equal(r.status, 1, r.stderr);
    // HTTP had started (its log lines come first); the verdict is the last line, and no stack trace.
    assert.equal(
      r.stderr.trimEnd().split("\n").at(-1),
      `modelship serve: gRPC: cannot listen on 127.0.0.1:${port}: address already in use (EADDRINUSE) (another --grpc-port, or off)`,
    );
    assert.doesNotMatch(r.stderr, /^\s+at /m);
  } finally {
    holder.close();
  }
});

test("usage errors exit 2 naming the flag", () => {
  const run = (...args: string[]) =>
    spawnSync(process.execPath, ["--import", "tsx", "bin/dev.ts", "serve", ...args], {
      encoding: "utf8",
      timeout: 60_000,
    });
  const none = run();
  assert.equal(none.status, 2);
  assert.match(none.stderr, /--model NAME=PATH or a --model-dir/);
  const ep = run("--model", "a=b.onnx", "--execution-provider", "tpu");
  assert.equal(ep.status, 2);
  assert.match(ep.stderr, /--execution-provider must be cpu or cuda, got "tpu"/);
  const form = run("--model", "justapath.onnx");
  assert.equal(form.status, 2);
  assert.match(form.stderr, /must look like NAME=PATH\[@VERSION\]/);
  const twice = run("--model", "a=x.onnx", "--model", "a=y.onnx@1");
  assert.match(twice.stderr, /a@1 is given twice/);
  for (const port of ["70000", "on", "-1"]) {
    const grpc = run("--model", "a=b.onnx", `--grpc-port=${port}`);
    assert.equal(grpc.status, 2);
    assert.match(
      grpc.stderr,
      new RegExp(`--grpc-port must be a port number \\(0 = any free one\\) or off, got "${port}"`),
    );
  }
});

test("--model-dir serves NAME.onnx and NAME/VERSION/*.onnx", async () => {
  const root = join(dir, "repo");
  mkdirSync(join(root, "ids", "3"), { recursive: true });
  writeModel(identityModel({ dtype: "float32", shape: ["n"] }), root, "flat.onnx");
  writeModel(identityModel({ dtype: "int32", shape: ["n"] }), join(root, "ids", "3"), "model.onnx");
  const s = await serve("--model-dir", root);
  try {
    await waitFor(async () => ((await readyStatus(s.url)).status === 200 ? true : undefined), "ready");
    const ids = (await (await fetch(`${s.url}/v2/models/ids`)).json()) as { versions: string[] };
    assert.deepEqual(ids.versions, ["3"]);
    assert.equal((await fetch(`${s.url}/v2/models/flat/versions/1/ready`)).status, 200);
  } finally {
    s.child.kill("SIGTERM");
    assert.equal(await s.exited, 0);
  }
});

test("SIGTERM: stops accepting, the in-flight request still completes, exit 0", async () => {
  const model = writeModel(slowModel({ dim: 256, depth: 64 }), dir, "slow.onnx");
  const s = await serve("--model", `slow=${model}`, "--max-body-bytes", String(64 << 20));
  await waitFor(async () => ((await readyStatus(s.url)).status === 200 ? true : undefined), "ready");
  const rows = 1000;
  const inflight = fetch(`${s.url}/v2/models/slow/infer`, {
    method: "POST",
    body: JSON.stringify({
      inputs: [{ name: "x", datatype: "FP32", shape: [rows, 256], data: new Array(rows * 256).fill(1) }],
    }),
  });
  // Wait until the batch is running in the worker, then ask the server to stop.
  await waitFor(async () => {
    const text = await (await fetch(`${s.url}/metrics`)).text();
    return /modelship_inference_batch_size_count\{[^}]*\} 1$/m.test(text) ? true : undefined;
  }, "the batch to start");
  s.child.kill("SIGTERM");
  const res = await inflight;
  assert.equal(res.status, 200);
  const body = (await res.json()) as { outputs: { shape: number[] }[] };
  assert.deepEqual(body.outputs[0]!.shape, [rows, 256]);
  assert.equal(await s.exited, 0);
  assert.ok(s.logs.some((l) => l.includes("Received shutdown signal")));
  assert.ok(s.logs.some((l) => l.includes("Stopped model server")));
});

test("cuda without the CUDA binaries: stays unready with the fix, unless --allow-cpu-fallback", async (t) => {
  const model = writeModel(identityModel({ dtype: "float32", shape: ["n"] }), dir, "cuda.onnx");
  const strict = await serve("--model", `m=${model}`, "--execution-provider", "cuda");
  try {
    const r = await waitFor(async () => {
      const st = await readyStatus(strict.url);
      return strict.logs.some(
        (l) => l.includes("Became ready") || l.includes("CUDA execution provider is not available"),
      )
        ? st
        : undefined;
    }, "a readiness verdict");
    if (r.status === 200) return t.skip("this machine has a working CUDA provider");
    assert.equal(r.status, 503);
    assert.match(
      String(r.body.error),
      /CUDA execution provider is not available.*ONNXRUNTIME_NODE_INSTALL=cuda12.*--allow-cpu-fallback/,
    );
    assert.equal((await fetch(`${strict.url}/v2/health/live`)).status, 200);
    const infer = await fetch(`${strict.url}/v2/models/m/infer`, { method: "POST", body: "{}" });
    assert.equal(infer.status, 503);
  } finally {
    strict.child.kill("SIGTERM");
    await strict.exited;
  }
  const lenient = await serve(
    "--model",
    `m=${model}`,
    "--execution-provider",
    "cuda",
    "--allow-cpu-fallback",
  );
  try {
    await waitFor(async () => ((await readyStatus(lenient.url)).status === 200 ? true : undefined), "ready");
    assert.ok(lenient.logs.some((l) => l.includes("Fell back to the CPU execution provider")));
    const meta = (await (await fetch(`${lenient.url}/v2/models/m`)).json()) as {
      parameters: { execution_provider: string };
    };
    assert.equal(meta.parameters.execution_provider, "cpu");
  } finally {
    lenient.child.kill("SIGTERM");
    await lenient.exited;
  }
});

test("the compiled CLI (dist/) runs its inference workers from dist too", async (t) => {
  // CI builds dist/ in `npm ci` (the prepare script); a bare checkout may not have it.
  if (!existsSync("dist/runtime/worker.js")) return t.skip("dist/ is not built (npm run build)");
  const model = writeModel(identityModel({ dtype: "float32", shape: ["n", 2] }), dir, "compiled.onnx");
  const s = await serve("--compiled", "--model", `m=${model}`);
  try {
    await waitFor(async () => ((await readyStatus(s.url)).status === 200 ? true : undefined), "ready");
    const res = await fetch(`${s.url}/v2/models/m/infer`, {
      method: "POST",
      body: JSON.stringify({ inputs: [{ name: "x", datatype: "FP32", shape: [1, 2], data: [1.5, -2] }] }),
    });
    assert.equal(res.status, 200);
    assert.deepEqual(((await res.json()) as { outputs: { data: number[] }[] }).outputs[0]!.data, [1.5, -2]);
    // The .proto ships beside dist/ (proto/ at the package root), as in the image.
    const client = await grpcClient(s);
    assert.deepEqual(await grpcCall(client, "ServerReady", {}), { ready: true });
    client.close();
  } finally {
    s.child.kill("SIGTERM");
    assert.equal(await s.exited, 0);
  }
});

test("--grpc-port: GRPCInferenceService beside HTTP, drained on SIGTERM; off turns it off", async () => {
  const model = writeModel(identityModel({ dtype: "float32", shape: ["n", 2] }), dir, "grpc.onnx");
  const s = await serve("--model", `m=${model}`);
  try {
    await waitFor(async () => ((await readyStatus(s.url)).status === 200 ? true : undefined), "ready");
    const client = await grpcClient(s);
    const res = await grpcCall(client, "ModelInfer", {
      model_name: "m",
      inputs: [{ name: "x", datatype: "FP32", shape: [1, 2], contents: { fp32_contents: [1.5, -2] } }],
    });
    assert.deepEqual(res.outputs[0].contents.fp32_contents, [1.5, -2]);
    client.close();
  } finally {
    s.child.kill("SIGTERM");
    assert.equal(await s.exited, 0);
  }
  const off = await serve("--model", `m=${model}`, "--grpc-port", "off");
  try {
    await waitFor(async () => ((await readyStatus(off.url)).status === 200 ? true : undefined), "ready");
    assert.ok(!off.logs.some((l) => l.includes("Started gRPC server")));
  } finally {
    off.child.kill("SIGTERM");
    assert.equal(await off.exited, 0);
  }
});
