// A multi-model pod as processes: the init containers' `modelship fetch` and the `modelship serve` the
// renderer writes for a ModelDeployment with spec.additionalModels, run with the rendered arguments (only
// the pod's paths, ports and sink moved into a temp dir), real ONNX models and real HTTP.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { parseModelDeployment } from "../api/v1alpha1/index.js";
import { defaultRenderConfig } from "../render/config.js";
import { stablePlan } from "../render/plan.js";
import { render } from "../render/render.js";
import { gatherModel, tempDir, writeModel } from "../testing/onnx/builders.js";
import { irisFeatures, irisModel, irisReference } from "../testing/onnx/iris.js";

type Obj = Record<string, any>;

const dir = tempDir("modelship-multi-model-");
const sha = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");
const irisPath = writeModel(irisModel(), dir, "iris.onnx");
const lookupPath = writeModel(gatherModel([10, 20, 30]), dir, "lookup.onnx");

const md = (() => {
  const r = parseModelDeployment({
    apiVersion: "modelship.io/v1alpha1",
    kind: "ModelDeployment",
    metadata: { name: "multi", namespace: "default" },
    spec: {
      model: {
        name: "iris",
        version: "1.0.0",
        uri: `file://${irisPath}`,
        sha256: sha(irisPath),
        features: irisFeatures.map((name) => ({ name, type: "numeric" })),
      },
      additionalModels: [
        {
          name: "lookup",
          version: "7",
          uri: `file://${lookupPath}`,
          sha256: sha(lookupPath),
          features: [{ name: "indices", type: "numeric" }],
        },
      ],
    },
  });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.value;
})();

const pod = (() => {
  const dep = (render(md, stablePlan(md), defaultRenderConfig).objects as Obj[]).find(
    (o) => o.kind === "Deployment",
  )!;
  return dep.spec.template.spec as Obj;
})();

/** A pod path moved under the temp dir (the emptyDir "models" is /models in the pod). */
const local = (v: string) => v.replace(/(^|=)\/models/, `$1${dir}/models`);

/** The rendered serve flags, with the pod-only ones replaced: loopback, free port, a file sink. */
function serveArgs(args: string[]): string[] {
  const out: string[] = [];
  const replace: Record<string, string | null> = {
    "--host": "127.0.0.1",
    "--port": "0",
    "--grpc-port": "off",
    "--sink": `file://${dir}/events`,
    "--sink-token-file": null,
    "--spool-dir": `${dir}/spool`,
    "--revision": "r1",
    "--variant-file": `${dir}/variant`,
    "--mirror-file": `${dir}/mirror`,
    // a cluster Service: nothing here fails over to it
    "--fallback-upstream": null,
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a in replace) {
      const v = replace[a];
      if (typeof v === "string") out.push(a, v);
      i++;
    } else out.push(local(a));
  }
  return out;
}

function modelship(args: string[]): ChildProcess {
  return spawn(process.execPath, ["--import", "tsx", "bin/dev.ts", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
}

let serve: ChildProcess;
let url: string;

before(async () => {
  // Given: every fetch init container, in order, as the kubelet runs them
  const fetches = (pod.initContainers as Obj[]).filter((c) => c.args[0] === "fetch");
  assert.deepEqual(
    fetches.map((c) => c.name),
    ["fetch", "fetch-1"],
  );
  for (const c of fetches) {
    const p = modelship((c.args as string[]).map(local));
    let err = "";
    p.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((r) => p.on("exit", r));
    assert.equal(code, 0, `${c.name} failed: ${err}`);
  }
  // When: serve starts with the rendered flags
  const container = (pod.containers as Obj[])[0]!;
  assert.equal(container.name, "serve");
  serve = modelship(serveArgs(container.args as string[]));
  const logs: string[] = [];
  url = await new Promise<string>((resolve, reject) => {
    let buf = "";
    serve.stderr!.on("data", (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split("\n");
      buf = lines.pop()!;
      for (const l of lines) {
        logs.push(l);
        const m = /"url":"(http:\/\/[^"]+)"/.exec(l);
        if (m) resolve(m[1]!);
      }
    });
    serve.on("exit", (code) => reject(new Error(`serve exited ${code}:\n${logs.join("\n")}`)));
  });
  for (let i = 0; i < 400; i++) {
    if ((await fetch(`${url}/v2/health/ready`).catch(() => undefined))?.status === 200) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`serve never became ready:\n${logs.join("\n")}`);
});

after(async () => {
  if (serve && serve.exitCode === null) {
    serve.kill("SIGTERM");
    await new Promise((r) => serve.once("exit", r));
  }
});

async function infer(model: string, body: object): Promise<{ status: number; body: Obj }> {
  const res = await fetch(`${url}/v2/models/${model}/infer`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Obj };
}

const row = [6.3, 2.9, 5.6, 1.8];

test("each model answers at its own route with its own outputs and version", async () => {
  const iris = await infer("iris", {
    inputs: [{ name: "input", shape: [1, 4], datatype: "FP32", data: row }],
  });
  assert.equal(iris.status, 200, JSON.stringify(iris.body));
  assert.equal(iris.body.model_name, "iris");
  assert.equal(iris.body.model_version, "1.0.0");
  const label = (iris.body.outputs as Obj[]).find((o) => o.name === "label")!;
  assert.deepEqual(label.data, [irisReference(row).label]);

  const lookup = await infer("lookup", {
    inputs: [{ name: "indices", shape: [3], datatype: "INT64", data: [2, 0, 1] }],
  });
  assert.equal(lookup.status, 200, JSON.stringify(lookup.body));
  assert.equal(lookup.body.model_name, "lookup");
  assert.equal(lookup.body.model_version, "7");
  assert.deepEqual((lookup.body.outputs as Obj[])[0]!.data, [30, 10, 20]);

  // a model's route does not take another's inputs
  const wrong = await infer("lookup", {
    inputs: [{ name: "input", shape: [1, 4], datatype: "FP32", data: row }],
  });
  assert.equal(wrong.status, 400);
  const ready = await fetch(`${url}/v2/models/lookup/ready`);
  assert.equal(ready.status, 200);
});

test("metrics are per model and version", async () => {
  const text = await (await fetch(`${url}/metrics`)).text();
  const count = (model: string, version: string) =>
    new RegExp(
      `^modelship_inference_requests_total\\{[^}]*model="${model}"[^}]*version="${version}"[^}]*code="200"[^}]*\\} (\\d+)`,
      "m",
    ).exec(text)?.[1];
  assert.equal(
    count("iris", "1.0.0"),
    "1",
    text
      .split("\n")
      .filter((l) => l.includes("requests_total"))
      .join("\n"),
  );
  assert.equal(count("lookup", "7"), "1");
  assert.match(text, /modelship_model_ready\{[^}]*model="lookup"[^}]*version="7"[^}]*\} 1/);
});

function eventFiles(root: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(root)) {
    const p = join(root, e);
    if (statSync(p).isDirectory()) out.push(...eventFiles(p));
    else if (p.endsWith(".ndjson")) out.push(p);
  }
  return out;
}

test("events name their model and version, map each model's own features, and are partitioned per model", async () => {
  // Then, after a clean stop (which drains the spool to the sink)
  serve.kill("SIGTERM");
  assert.equal(await new Promise((r) => serve.once("exit", r)), 0);
  const events = eventFiles(join(dir, "events")).flatMap((f) =>
    readFileSync(f, "utf8")
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => ({ file: f, event: JSON.parse(l) as Obj })),
  );
  const byModel = (name: string) => events.filter((e) => e.event.data.model.name === name);
  const iris = byModel("iris");
  const lookup = byModel("lookup");
  assert.equal(iris.length, 1, JSON.stringify(events.map((e) => e.event.data.model)));
  assert.equal(lookup.length, 2, "the good request and the refused one");
  assert.deepEqual(iris[0]!.event.data.model, { name: "iris", version: "1.0.0" });
  assert.deepEqual(lookup[0]!.event.data.model, { name: "lookup", version: "7" });
  assert.deepEqual(iris[0]!.event.data.features, [
    Object.fromEntries(irisFeatures.map((f, i) => [f, row[i]])),
  ]);
  const good = lookup.find((e) => e.event.data.features !== undefined)!;
  assert.deepEqual(good.event.data.features, [{ indices: 2 }, { indices: 0 }, { indices: 1 }]);
  // the file sink partitions by model, as the collector does: drift reads one model's events
  assert.ok(iris.every((e) => e.file.startsWith(join(dir, "events", "iris"))));
  assert.ok(lookup.every((e) => e.file.startsWith(join(dir, "events", "lookup"))));
});
