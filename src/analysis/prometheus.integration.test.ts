// Analysis against a real Prometheus server (the Debian package) scraping real `modelship serve` and
// `modelship logger` processes on loopback: a good model as stable, a deliberately failing one as canary
// (a model far slower than its server's request timeout, so every request ends in 504 or 503).
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { DEV_LAUNCHER, eventually, startLoggerCli, startServe, tmp, type Cli } from "../testing/procs.js";
import { reasons } from "../rollout/conditions.js";
import { canaryMD, Sim } from "../rollout/testing/sim.js";
import { judgeMeasurement } from "../rollout/analysis.js";
import { slowModel, writeModel } from "../testing/onnx/builders.js";
import { repoRoot } from "../testing/repo.js";
import { ALERTS_FILE, monitoringFiles } from "../observability/files.js";
import { alertRules, dashboardRows, scrapeLabels } from "../observability/monitoring.js";
import { measureDue, measureTemplates } from "./measure.js";
import { PrometheusClient } from "./prometheus.js";
import { defaultSelectorConfig, type SelectorConfig } from "./promql.js";

const STABLE = "stable0001";
const NAMESPACE = "team-a";
const DEPLOYMENT = "fraud-md";
const CANARY = "canary0001";

function findPrometheus(): { bin?: string; reason?: string } {
  const r = spawnSync("bash", [join(repoRoot, "src/analysis/testdata/ensure-prometheus.sh")], {
    encoding: "utf8",
    timeout: 300_000,
  });
  if (r.status === 0) return { bin: r.stdout.trim() };
  return { reason: `${r.stderr.trim() || "ensure-prometheus.sh failed"} (exit ${r.status})` };
}

const found = findPrometheus();
if (!found.bin) {
  console.error(`\n!!! SKIPPING the Prometheus analysis test: ${found.reason}\n`);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const hostPort = (url: string) => new URL(url).host;

describe(
  "analysis against a real Prometheus",
  { skip: found.bin ? false : found.reason, timeout: 600_000 },
  () => {
    const clis: Cli[] = [];
    let prom: ChildProcess | undefined;
    let promUrl = "";
    let stableLogger = "";
    let canaryLogger = "";

    before(async () => {
      // Same signature, so stable can answer the canary's requests: 2 MatMuls vs 128 (67M multiply-adds per
      // request of 16 rows) under a 1 ms request timeout.
      const good = writeModel(slowModel({ dim: 256, depth: 2 }), tmp("good"));
      const bad = writeModel(slowModel({ dim: 256, depth: 128 }), tmp("bad"));
      const [goodServe, badServe] = await Promise.all([
        startServe([`fraud=${good}@1`]),
        startServe([`fraud=${bad}@2`], DEV_LAUNCHER, ["--request-timeout-ms", "1"]),
      ]);
      clis.push(goodServe.cli, badServe.cli);
      const common = ["--sink", "stdout:", "--model", "fraud"];
      const sl = await startLoggerCli([
        "--upstream",
        goodServe.url,
        "--spool-dir",
        tmp("spool-stable"),
        "--model-version",
        "1",
        "--revision",
        STABLE,
        ...common,
      ]);
      clis.push(sl.cli);
      const cl = await startLoggerCli([
        "--upstream",
        badServe.url,
        "--fallback-upstream",
        sl.url,
        "--spool-dir",
        tmp("spool-canary"),
        "--model-version",
        "2",
        "--revision",
        CANARY,
        "--variant",
        "canary",
        ...common,
      ]);
      clis.push(cl.cli);
      stableLogger = sl.url;
      canaryLogger = cl.url;

      // Target labels stand in for the Kubernetes relabeling that copies the pod's revision label.
      const dir = tmp("prometheus");
      const target = (url: string, revision: string) =>
        `      - targets: ["${hostPort(url)}"]\n        labels: { ${defaultSelectorConfig.revisionLabel}: "${revision}", ${scrapeLabels.namespace}: "${NAMESPACE}", ${scrapeLabels.deployment}: "${DEPLOYMENT}" }\n`;
      // The chart's alert rules, loaded as Prometheus loads them (a bad rule stops it from starting).
      writeFileSync(join(dir, ALERTS_FILE), monitoringFiles()[ALERTS_FILE]!);
      writeFileSync(
        join(dir, "prometheus.yml"),
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n" +
          `rule_files: ["${join(dir, ALERTS_FILE)}"]\n` +
          "scrape_configs:\n" +
          "  - job_name: serve\n    static_configs:\n" +
          target(goodServe.url, STABLE) +
          target(badServe.url, CANARY) +
          "  - job_name: logger\n    static_configs:\n" +
          target(sl.url, STABLE) +
          target(cl.url, CANARY),
      );
      const port = await freePort();
      promUrl = `http://127.0.0.1:${port}`;
      prom = spawn(
        found.bin!,
        [
          `--config.file=${join(dir, "prometheus.yml")}`,
          `--storage.tsdb.path=${join(dir, "data")}`,
          `--web.listen-address=127.0.0.1:${port}`,
        ],
        { stdio: ["ignore", "ignore", "pipe"] },
      );
      const stderr: string[] = [];
      prom.stderr!.on("data", (b: Buffer) => stderr.push(b.toString()));
      await eventually(
        async () => {
          if (prom!.exitCode !== null) throw new Error(`prometheus exited: ${stderr.join("").slice(-2000)}`);
          const r = await fetch(`${promUrl}/-/ready`);
          await r.text();
          return r.ok ? true : undefined;
        },
        120_000,
        "Prometheus ready",
      );

      // Prometheus hands new targets to its scrapers only every few seconds: wait until all four are scraped.
      const client = new PrometheusClient({ url: promUrl });
      await eventually(
        async () => ((await client.queryNumber("count(up == 1)")) === 4 ? true : undefined),
        120_000,
        "all four targets scraped",
      );

      // Traffic over several scrapes, through each revision's logger.
      const body = JSON.stringify({
        inputs: [{ name: "x", datatype: "FP32", shape: [16, 256], data: new Array(16 * 256).fill(0.5) }],
      });
      const infer = async (url: string) => {
        const res = await fetch(`${url}/v2/models/fraud/infer`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
        });
        const text = await res.text();
        if (res.status !== 200 && url === stableLogger) assert.fail(`stable answered ${res.status}: ${text}`);
        return res.status;
      };
      const end = Date.now() + 6_000;
      const canaryStatuses = new Map<number, number>();
      while (Date.now() < end) {
        const [, c] = await Promise.all([infer(stableLogger), infer(canaryLogger)]);
        canaryStatuses.set(c, (canaryStatuses.get(c) ?? 0) + 1);
        await new Promise((r) => setTimeout(r, 50));
      }
      // The canary's failures are answered by stable through the logger's fallback.
      assert.ok((canaryStatuses.get(200) ?? 0) > 0, `canary answers: ${JSON.stringify([...canaryStatuses])}`);
    });

    after(async () => {
      if (prom && prom.exitCode === null) {
        prom.kill("SIGTERM");
        await new Promise((r) => prom!.once("exit", r));
      }
      await Promise.all(clis.map((c) => c.stop(2_000)));
    });

    const cfg: SelectorConfig = { ...defaultSelectorConfig, window: "30s" };
    const templates = [
      { name: "errors", metric: "errorRate", max: 0.05, interval: "10s", failureLimit: 0 },
      { name: "p95", metric: "latencyP95", max: 5, interval: "10s" },
      { name: "p99-vs-stable", metric: "latencyP99", max: 10, maxRelativeToStable: 100, interval: "10s" },
      { name: "fallbacks", metric: "fallbackRate", max: 0.05, interval: "10s", failureLimit: 0 },
      {
        name: "ready",
        metric: "custom",
        query: 'sum(modelship_model_ready{modelship_io_revision="{{revision}}"})',
        max: 1,
      },
      { name: "drift", metric: "driftScore", max: 0.2 },
    ];
    const md = () => {
      const m = canaryMD(
        [{ setWeight: 50 }, { analysis: { templates: ["errors", "fallbacks"] } }],
        {},
        { analysis: templates },
      );
      m.status = { drift: { verdict: "ok", score: 0.05, lastRun: new Date().toISOString() } };
      return m;
    };

    test("the failing canary's error and fallback rates are measured from the real metrics", async () => {
      const client = new PrometheusClient({ url: promUrl });
      const names = templates.map((t) => t.name);
      // Wait until Prometheus has enough samples of the canary's errors to compute a rate.
      const got = await eventually(
        async () => {
          const r = await measureTemplates(
            client,
            { md: md(), templates: names, candidate: CANARY, stable: STABLE, now: new Date() },
            cfg,
          );
          assert.deepEqual(r.errors, []);
          const errors = r.measurements.find((m) => m.template === "errors");
          const fallbacks = r.measurements.find((m) => m.template === "fallbacks");
          return errors?.value !== undefined && fallbacks?.value !== undefined ? r : undefined;
        },
        120_000,
        "canary rates in Prometheus",
      );
      const by = (n: string) => got.measurements.find((m) => m.template === n)!;
      const m = md();
      const judge = (n: string) =>
        judgeMeasurement(
          m.spec.rollout.analysis!.find((t) => t.name === n)!,
          by(n),
        );
      // Most canary requests time out in the model server (a few may beat 1 ms); the logger retried them on stable.
      assert.ok(by("errors").value! > 0.5, `canary error rate ${by("errors").value}`);
      assert.ok(by("fallbacks").value! > 0.5, `canary fallback rate ${by("fallbacks").value}`);
      assert.equal(judge("errors").phase, "Failed");
      assert.equal(judge("fallbacks").phase, "Failed");
      assert.ok(by("p95").value! > 0 && by("p95").value! < 5, `p95 ${by("p95").value}`);
      assert.equal(judge("p95").phase, "Successful");
      assert.ok(by("p99-vs-stable").stableValue! > 0, "stable's p99 measured for the relative threshold");
      assert.equal(by("ready").value, 1);
      assert.equal(by("drift").value, 0.05);

      // The same templates on the stable revision pass.
      const stable = await measureTemplates(
        client,
        { md: m, templates: ["errors", "fallbacks"], candidate: STABLE, now: new Date() },
        cfg,
      );
      for (const s of stable.measurements) {
        assert.equal(s.value, 0, `stable ${s.template}`);
        assert.equal(
          judgeMeasurement(
            m.spec.rollout.analysis!.find((t) => t.name === s.template)!,
            s,
          ).phase,
          "Successful",
        );
      }
    });

    test("real measurements drive decide() to roll the canary back", async () => {
      const client = new PrometheusClient({ url: promUrl });
      const sim = new Sim(md(), new Date().toISOString()).settle();
      sim.release("v2");
      sim.decide();
      sim.decide();
      assert.deepEqual(sim.last.measure, ["errors", "fallbacks"]);
      // The revision ids of the real processes stand in for the simulated ones.
      const asLive = structuredClone(sim.md);
      asLive.status!.canaryRevision = CANARY;
      asLive.status!.stableRevision = STABLE;
      const r = await measureDue(client, asLive, sim.now, cfg);
      assert.deepEqual(r.errors, []);
      assert.deepEqual(
        r.measurements.map((m) => m.template),
        ["errors", "fallbacks"],
      );
      sim.measurements.push(...r.measurements);
      sim.decide();
      assert.equal(sim.last.status.phase, "RolledBack");
      assert.equal(sim.condition("RolledBack")?.reason, reasons.analysisFailed);
      assert.deepEqual(sim.shape, { weight: 0, stable: 4 });
    });

    test("a query Prometheus rejects is reported and measured as no data", async () => {
      const client = new PrometheusClient({ url: promUrl });
      const m = md();
      m.spec.rollout.analysis!.push({
        ...m.spec.rollout.analysis![4]!,
        name: "broken",
        query: "sum(rate(x[",
      });
      const r = await measureTemplates(
        client,
        { md: m, templates: ["broken"], candidate: CANARY, now: new Date() },
        cfg,
      );
      assert.equal(r.measurements[0]!.value, undefined);
      assert.match(r.errors[0]!.message, /bad_data|parse error/);
    });

    test("every dashboard query runs on these series, and the serving and logging panels show data", async () => {
      const vars = (expr: string) =>
        expr
          .replaceAll("$namespace", NAMESPACE)
          .replaceAll("$deployment", DEPLOYMENT)
          .replaceAll("$model", "fraud")
          .replaceAll("$__rate_interval", "30s");
      const empty: string[] = [];
      for (const row of dashboardRows())
        for (const panel of row.panels)
          for (const q of panel.queries) {
            const res = await fetch(
              `${promUrl}/api/v1/query?${new URLSearchParams({ query: vars(q.expr) })}`,
            );
            const body = (await res.json()) as {
              status: string;
              error?: string;
              data?: { result: unknown[] };
            };
            assert.equal(body.status, "success", `${panel.title}: ${q.expr}: ${body.error}`);
            if (panel.core && body.data!.result.length === 0) empty.push(`${panel.title}: ${q.expr}`);
          }
      assert.deepEqual(empty, [], "core panels without data");
    });

    test("the alert rules load, evaluate without errors, and the canary's fallbacks fire ModelshipFallbacks", async () => {
      const rules = await eventually(
        async () => {
          const res = await fetch(`${promUrl}/api/v1/rules`);
          const body = (await res.json()) as {
            data: {
              groups: { rules: { name: string; health: string; lastError?: string; state: string }[] }[];
            };
          };
          const all = body.data.groups.flatMap((g) => g.rules);
          return all.length > 0 && all.every((r) => r.health !== "unknown") ? all : undefined;
        },
        30_000,
        "rules evaluated",
      );
      assert.deepEqual(
        rules.map((r) => r.name),
        alertRules().map((r) => r.alert),
      );
      for (const r of rules) assert.equal(r.health, "ok", `${r.name}: ${r.lastError}`);
      // Every canary request fails locally and is answered by stable: pending (for: 10m) right away.
      assert.notEqual(rules.find((r) => r.name === "ModelshipFallbacks")?.state, "inactive");
      assert.equal(rules.find((r) => r.name === "ModelshipInferenceEventsDropped")?.state, "inactive");
    });
  },
);
