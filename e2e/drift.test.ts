// The drift job's status write on the real API server, beside the running controller: the verdict lands in
// status.drift with a DriftDetected condition and an Event, under its own field manager, and the controller's
// own status writes leave it alone; a real collector keeps the full report that status.drift.reportRef
// points at. Run with `npm run test:e2e -- drift`.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import yaml from "js-yaml";
import { freePort, startController, type ControllerProcess } from "./controller/harness.js";
import {
  clusterEnv,
  createNamespace,
  kubectl,
  kubectlJson,
  repoRoot,
  run,
  waitFor,
  type TestNamespace,
} from "./lib/index.js";

const features = ["sepal_length", "sepal_width", "petal_length", "petal_width"];
let seed = 7;
const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
const normal = (mu: number) => mu + Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());

let ns: TestNamespace;
let ctl: ControllerProcess;
before(async () => {
  await kubectl(["apply", "--server-side", "--force-conflicts", "-f", join(repoRoot, "crds")]);
  ns = await createNamespace("drift");
  ctl = await startController(["--leader-elect=false", "--namespaces", ns.name]);
});
let stopCollector: (() => void) | undefined;
after(async () => {
  stopCollector?.();
  await ctl?.stop();
  await ns?.delete();
});

test(
  "Given a Ready model and a shifted hour of traffic, When the drift job runs, Then status.drift, DriftDetected and an Event say so, and the controller keeps them",
  { timeout: 300_000 },
  async () => {
    const md = yaml.load(readFileSync(join(repoRoot, "examples/quickstart-cpu.yaml"), "utf8")) as any;
    md.metadata.namespace = ns.name;
    await kubectl(["apply", "-f", "-"], { input: JSON.stringify(md) });
    await waitFor("iris Ready", async () =>
      ((await kubectlJson<any>(["get", "md", "iris", "-n", ns.name])).status?.conditions ?? []).some(
        (c: any) => c.type === "Ready" && c.status === "True",
      ),
    );

    const dir = mkdtempSync(join(tmpdir(), "modelship-drift-e2e-"));
    const train = ["sepal_length,sepal_width,petal_length,petal_width"];
    for (let i = 0; i < 2000; i++)
      train.push([normal(5.8), normal(3), normal(3.7), normal(1.2)].map((x) => x.toFixed(3)).join(","));
    writeFileSync(join(dir, "train.csv"), train.join("\n") + "\n");
    const cli = (args: string[]) =>
      run(process.execPath, ["--import", "tsx", join(repoRoot, "bin/dev.ts"), ...args], {
        allowFailure: true,
        timeoutMs: 120_000,
      });
    const b = await cli(["baseline", "--data", join(dir, "train.csv"), "--out", join(dir, "baseline.json")]);
    assert.equal(b.code, 0, b.stderr);

    const now = Date.now();
    const hour = new Date(now - 20 * 60_000);
    const part = join(
      dir,
      "events",
      "iris",
      hour.toISOString().slice(0, 10),
      hour.toISOString().slice(11, 13),
    );
    mkdirSync(part, { recursive: true });
    const lines: string[] = [];
    for (let i = 0; i < 600; i++) {
      const row = {
        sepal_length: normal(7.5),
        sepal_width: normal(3),
        petal_length: normal(3.7),
        petal_width: normal(1.2),
      };
      lines.push(
        JSON.stringify({
          specversion: "1.0",
          id: `e-${i}`,
          source: `modelship/${ns.name}/iris/r1`,
          type: "io.modelship.inference.v1",
          time: new Date(now - 20 * 60_000 + i * 1000).toISOString(),
          datacontenttype: "application/json",
          data: {
            model: { name: "iris", version: "1.0.0" },
            revision: "r1",
            variant: "stable",
            request: { inputs: [] },
            features: [row],
            predictions: [0],
            status: 200,
            latencyMs: 2,
            headers: {},
            sampleRate: 1,
            fallback: false,
          },
        }),
      );
    }
    writeFileSync(join(part, "events-0.ndjson"), lines.join("\n") + "\n");
    void features;

    // A real collector keeps the full report; the status points at it.
    const port = await freePort();
    const collector = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        join(repoRoot, "bin/dev.ts"),
        "collector",
        "--data-dir",
        join(dir, "store"),
        "--listen",
        `127.0.0.1:${port}`,
      ],
      { stdio: "ignore" },
    );
    stopCollector = () => collector.kill("SIGKILL");
    const collectorUrl = `http://127.0.0.1:${port}`;
    await waitFor("collector ready", async () => {
      try {
        return (await fetch(`${collectorUrl}/readyz`)).ok;
      } catch {
        return false;
      }
    });

    const r = await cli([
      "drift",
      "--baseline",
      join(dir, "baseline.json"),
      "--events",
      join(dir, "events"),
      "--model",
      "iris",
      "--window",
      "1h",
      "--out",
      join(dir, "report.json"),
      "--namespace",
      ns.name,
      "--deployment",
      "iris",
      "--kubeconfig",
      clusterEnv().kubeconfig,
      "--report-url",
      collectorUrl,
    ]);
    assert.equal(r.code, 0, r.stderr.slice(-3000));
    const report = JSON.parse(readFileSync(join(dir, "report.json"), "utf8"));
    assert.equal(report.verdict, "drift");

    const m = await waitFor("status.drift written", async () => {
      const x = await kubectlJson<any>(["get", "md", "iris", "-n", ns.name]);
      return x.status?.drift?.verdict ? x : undefined;
    });
    assert.equal(m.status.drift.verdict, "drift");
    // status.drift.reportRef serves the very report the job wrote.
    assert.match(m.status.drift.reportRef, new RegExp(`^${collectorUrl}/v1/reports/iris/`));
    assert.deepEqual(await (await fetch(m.status.drift.reportRef)).json(), report);
    assert.ok(m.status.drift.features.some((f: any) => f.name === "sepal_length" && f.drifted));
    const driftCond = m.status.conditions.find((c: any) => c.type === "DriftDetected");
    assert.equal(driftCond?.status, "True");
    const events = await kubectlJson<{ items: any[] }>([
      "get",
      "events",
      "-n",
      ns.name,
      "--field-selector",
      "involvedObject.name=iris",
    ]);
    assert.ok(
      events.items.some((e) => /drift/i.test(e.reason)),
      "a drift Event",
    );

    // The controller writes status again (a scale makes it), and leaves the drift job's fields alone.
    await kubectl(["scale", "md/iris", "-n", ns.name, "--replicas=3"]);
    await waitFor(
      "3 ready",
      async () => (await kubectlJson<any>(["get", "md", "iris", "-n", ns.name])).status?.readyReplicas === 3,
    );
    const after = await kubectlJson<any>(["get", "md", "iris", "-n", ns.name]);
    assert.equal(after.status.drift?.verdict, "drift");
    assert.equal(after.status.conditions.find((c: any) => c.type === "DriftDetected")?.status, "True");
    assert.equal(after.status.conditions.find((c: any) => c.type === "Ready")?.status, "True");
  },
);
