// Live traffic through a real Gateway API implementation: the bundled cluster's Traefik (edge-up.sh) routes
// real requests to real pods by the HTTPRoute the controller writes, and a real Prometheus scraping those
// pods by Kubernetes service discovery feeds the controller's analysis. Shares are judged against the 99.9%
// binomial interval of the weight. Each test is a step of one story in one namespace, in order.
// Run with `npm run test:e2e -- traffic`.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import yaml from "js-yaml";
import {
  clusterEnv,
  createNamespace,
  edgeEnv,
  helm,
  kubectl,
  kubectlJson,
  repoRoot,
  run,
  waitFor,
  type TestNamespace,
} from "./lib/index.js";
import { collectorEventList, installChart, releaseCollector, type Collector } from "./lib/chart.js";
import {
  binomialInterval,
  flower,
  mirrorCopies,
  predict,
  serviceUrl,
  type Prediction,
} from "./lib/inference.js";

type Obj = Record<string, any>;

const env = clusterEnv();
const edge = edgeEnv();
const release = "ms-traffic";
const systemNs = "ms-traffic-system";
const slow = { timeout: 600_000 };
const gatewayRef = { name: "inference", namespace: "modelship-gateway" };
let ns: TestNamespace;
let collector: Collector;

/** Figures the closing note reports: printed, not asserted beyond the interval checks. */
function report(what: string, figures: Record<string, unknown>) {
  console.log(`[traffic] ${what}: ${JSON.stringify(figures)}`);
}

const hostOf = (name: string) => `${name}.${ns.name}.e2e.modelship.test`;

function example(file: string, mutate: (md: Obj) => void): Obj {
  const md = yaml.load(readFileSync(join(repoRoot, "examples", file), "utf8")) as Obj;
  md.metadata.namespace = ns.name;
  md.spec.traffic = { provider: "gatewayAPI", parentRefs: [gatewayRef] };
  delete md.spec.monitoring?.drift;
  mutate(md);
  md.spec.traffic.hostnames = [hostOf(md.metadata.name)];
  return md;
}

async function apply(md: Obj) {
  await kubectl(["apply", "-f", "-"], { input: JSON.stringify(md) });
}

const getMd = (name: string) => kubectlJson<Obj>(["get", "md", name, "-n", ns.name]);
const cond = (m: Obj, type: string) => (m.status?.conditions ?? []).find((c: Obj) => c.type === type);

async function promote(name: string, full = false) {
  await run(
    process.execPath,
    [join(repoRoot, "bin/modelship.js"), "promote", name, "-n", ns.name, ...(full ? ["--full"] : [])],
    { env: { ...process.env, KUBECONFIG: env.kubeconfig } },
  );
}

/** One request through the Gateway, routed by the ModelDeployment's hostname. */
function viaGateway(name: string, model: string, row: number[], headers: Record<string, string> = {}) {
  return predict(edge!.gatewayUrl, model, [row], { headers: { host: hostOf(name), ...headers } });
}

/** Waits until the walk stands paused at step `index` (0-based) of the canary's steps. */
async function pausedAt(name: string, index: number) {
  await waitFor(
    `md/${name} paused at step ${index}`,
    async () => {
      const m = await getMd(name);
      return m.status?.currentStepIndex === index && cond(m, "Paused")?.status === "True" ? m : undefined;
    },
    { timeoutMs: 300_000 },
  );
}

/** Waits until Traefik accepted the HTTPRoute's current generation, then for its config to load. */
async function routeProgrammed(name: string): Promise<Obj> {
  const route = await waitFor(
    `httproute/${name} accepted by Traefik at its current generation`,
    async () => {
      const r = await kubectlJson<Obj>(["get", "httproute", name, "-n", ns.name]);
      const parent = (r.status?.parents ?? []).find(
        (p: Obj) => p.controllerName === "traefik.io/gateway-controller",
      );
      const accepted = (parent?.conditions ?? []).find((c: Obj) => c.type === "Accepted");
      return accepted?.status === "True" && accepted.observedGeneration === r.metadata.generation
        ? r
        : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 500 },
  );
  await new Promise((r) => setTimeout(r, 2_000)); // Traefik applies configurations at most every 500 ms
  return route;
}

/** `n` requests through the Gateway, four at a time: how many each model version answered. */
async function versionsOf(
  name: string,
  model: string,
  n: number,
  headers: Record<string, string> = {},
): Promise<{ versions: Map<string, number>; failed: Prediction[]; ids: string[] }> {
  const versions = new Map<string, number>();
  const failed: Prediction[] = [];
  const ids: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let i = next++; i < n; i = next++) {
        const r = await viaGateway(name, model, flower(i), headers);
        if (!r.ok) failed.push(r);
        else {
          const v = String(r.body!.model_version);
          versions.set(v, (versions.get(v) ?? 0) + 1);
          if (r.eventId) ids.push(r.eventId);
        }
      }
    }),
  );
  return { versions, failed, ids };
}

/**
 * A caller inside the cluster: a pod (our image's Node.js) that sends `n` requests to the Gateway's
 * address with the route's hostname, as a caller resolving status.endpoint's host to the Gateway does.
 * Returns how many each model version answered (failures as "status N" or the error code).
 */
async function inClusterVersions(name: string, model: string, n: number): Promise<Record<string, number>> {
  const gw = new URL(edge!.gatewayUrl);
  const script = `
const http = require("node:http");
const body = JSON.stringify({ inputs: [{ name: "input", shape: [1, 4], datatype: "FP32", data: [5.1, 3.5, 1.4, 0.2] }] });
const counts = {};
const add = (k) => (counts[k] = (counts[k] || 0) + 1);
const one = () => new Promise((done) => {
  const req = http.request({ host: ${JSON.stringify(gw.hostname)}, port: ${gw.port}, path: "/v2/models/${model}/infer", method: "POST",
    headers: { host: ${JSON.stringify(hostOf(name))}, "content-type": "application/json" } }, (res) => {
    let text = "";
    res.on("data", (c) => (text += c));
    res.on("end", () => { add(res.statusCode === 200 ? JSON.parse(text).model_version : "status " + res.statusCode); done(); });
  });
  req.on("error", (e) => { add(e.code || String(e)); done(); });
  req.end(body);
});
(async () => { for (let i = 0; i < ${n}; i++) await one(); console.log(JSON.stringify(counts)); })();`;
  const pod = `caller-${Date.now().toString(36)}`;
  await apply({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: pod, namespace: ns.name },
    spec: {
      restartPolicy: "Never",
      securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: "RuntimeDefault" } },
      containers: [
        {
          name: "caller",
          image: "modelship/modelship:0.1.0",
          imagePullPolicy: "IfNotPresent",
          command: ["node", "-e", script],
          resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "128Mi" } },
          securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
        },
      ],
    },
  });
  await waitFor(
    `pod ${pod} done`,
    async () => {
      const phase = (await kubectlJson<Obj>(["get", "pod", pod, "-n", ns.name])).status?.phase;
      if (phase === "Failed")
        throw new Error(`pod ${pod} failed: ${(await kubectl(["logs", pod, "-n", ns.name])).stdout}`);
      return phase === "Succeeded";
    },
    { timeoutMs: 180_000 },
  );
  const out = (await kubectl(["logs", pod, "-n", ns.name])).stdout.trim().split("\n").at(-1)!;
  await kubectl(["delete", "pod", pod, "-n", ns.name, "--wait=false"]);
  return JSON.parse(out) as Record<string, number>;
}

/** Client traffic through the Gateway until stopped: each answer's time, status and version. */
function steadyTraffic(name: string, model: string, workers: number, pauseMs: number) {
  const results: { at: number; status: number; version?: string; error?: string }[] = [];
  let stopped = false;
  const loops = Array.from({ length: workers }, async (_, w) => {
    for (let i = w; !stopped && i < 1_000_000; i += workers) {
      const r = await viaGateway(name, model, flower(i));
      results.push({
        at: Date.now(),
        status: r.status,
        ...(r.body?.model_version ? { version: String(r.body.model_version) } : {}),
        ...(r.error ? { error: r.error } : {}),
      });
      if (pauseMs > 0) await new Promise((res) => setTimeout(res, pauseMs));
    }
  });
  return {
    results,
    async stop() {
      stopped = true;
      await Promise.all(loops);
      return results;
    },
  };
}

describe(
  "live traffic through the Gateway",
  { skip: !edge && "needs the bundled cluster's real node and its Gateway" },
  () => {
    before(async () => {
      await run("bash", [join(repoRoot, "scripts/image.sh")], { timeoutMs: 1_200_000 });
      await run("bash", [join(repoRoot, "e2e/cluster/load-images.sh")], { timeoutMs: 300_000 });
      // helm installs CRDs only once: this checkout's CRD as a platform team upgrades it
      await kubectl(["apply", "--server-side", "--force-conflicts", "-f", join(repoRoot, "crds")]);
      ns = await createNamespace("traffic", env, { pods: "real" });
      await installChart(release, systemNs, ns.name, [
        "--set",
        `controller.prometheusUrl=${edge!.prometheusUrl}`,
        "--set",
        "controller.replicas=1",
      ]);
      collector = await releaseCollector(release, systemNs);
    });

    after(async () => {
      await helm(["uninstall", release, "-n", systemNs, "--wait"], {
        allowFailure: true,
        timeoutMs: 300_000,
      });
      await kubectl(["delete", "namespace", systemNs, "--ignore-not-found", "--wait=false"], {
        allowFailure: true,
      });
      await ns?.delete();
    });

    test(
      "Given iris behind the Gateway, Then status.endpoint names the Gateway by the route's hostname and answers there",
      slow,
      async () => {
        await apply(example("quickstart-cpu.yaml", () => {}));
        const m = await waitFor(
          "md/iris Ready with an endpoint",
          async () => {
            const x = await getMd("iris");
            return cond(x, "Ready")?.status === "True" && x.status.endpoint ? x : undefined;
          },
          { timeoutMs: 300_000 },
        );
        const port = new URL(edge!.gatewayUrl).port;
        assert.equal(m.status.endpoint, `http://${hostOf("iris")}:${port}/v2/models/iris`);
        assert.equal(m.status.serviceEndpoint, `http://iris.${ns.name}.svc.cluster.local/v2/models/iris`);
        await routeProgrammed("iris");
        // the endpoint's host resolves to the Gateway for its callers; here the request names it in Host
        const r = await waitFor("iris answers through the Gateway", async () => {
          const x = await viaGateway("iris", "iris", flower(0));
          return x.ok ? x : undefined;
        });
        assert.equal(r.body!.model_version, "1.0.0");
        const other = await predict(edge!.gatewayUrl, "iris", [flower(1)], {
          headers: { host: `nobody.${ns.name}.e2e.modelship.test` },
        });
        assert.equal(other.status, 404, "a hostname no route claims is not served");
      },
    );

    test(
      "Given a canary with a header route and shadow copies, When it walks setWeight 10 and 50, Then each share over 2,000 requests lies in the 99.9% interval",
      slow,
      async () => {
        await apply(
          example("quickstart-cpu.yaml", (m) => {
            m.spec.model.version = "2.0.0";
            m.spec.rollout = {
              strategy: "canary",
              canary: {
                steps: [
                  { setMirror: { percent: 50 } },
                  { setHeaderRoute: { match: [{ name: "x-cohort", value: "beta" }] } },
                  { pause: {} },
                  { setWeight: 10 },
                  { pause: {} },
                  { setWeight: 50 },
                  { pause: {} },
                ],
              },
            };
          }),
        );
        await pausedAt("iris", 2);
        await routeProgrammed("iris");

        // A/B: the header picks the canary, every time; without it, stable every time.
        const beta = await versionsOf("iris", "iris", 300, { "x-cohort": "beta" });
        assert.deepEqual(beta.failed, []);
        assert.deepEqual(
          [...beta.versions],
          [["2.0.0", 300]],
          "every request with the header reached the canary",
        );
        // shadow: each stable pod copies half of what it answers once its ConfigMap file names the target
        const stableRev = (await getMd("iris")).status.stableRevision as string;
        const stablePods = `modelship.io/deployment=iris,modelship.io/revision=${stableRev}`;
        await waitFor(
          "every stable pod copying",
          async () => {
            for (let i = 0; i < 20; i++) await viaGateway("iris", "iris", flower(i));
            const c = await mirrorCopies(ns.name, stablePods);
            return c.perPod.length > 0 && c.perPod.every((n) => n > 0);
          },
          { timeoutMs: 180_000, intervalMs: 3_000 },
        );
        await new Promise((r) => setTimeout(r, 2_000)); // copies of the warm-up requests land first
        const before = await mirrorCopies(ns.name, stablePods);
        const since = new Date();
        const plain = await versionsOf("iris", "iris", 600);
        assert.deepEqual(plain.failed, []);
        assert.deepEqual(
          [...plain.versions],
          [["1.0.0", 600]],
          "no request without the header reached the canary",
        );
        await new Promise((r) => setTimeout(r, 5_000));
        const copies = await mirrorCopies(ns.name, stablePods);
        const delta = (k: string) => (copies.byResult[k] ?? 0) - (before.byResult[k] ?? 0);
        const sampled = ["answered", "failed", "timeout", "skipped"].reduce((n, k) => n + delta(k), 0);
        const shadow = (await collectorEventList(collector, ns.name, "iris", since)).filter(
          (e) => e.data.variant === "shadow",
        );
        const [slo, shi] = binomialInterval(600, 0.5);
        report("shadow 50%", {
          requests: 600,
          sampled,
          answered: delta("answered"),
          skipped: delta("skipped"),
          shadowEvents: shadow.length,
          interval: [slo, shi],
        });
        assert.ok(
          sampled >= slo && sampled <= shi,
          `${sampled} of 600 sampled for copying: outside [${slo}, ${shi}]`,
        );
        // each copy the candidate answered is one shadow event (copies are best-effort: skipped under overload)
        assert.ok(
          Math.abs(shadow.length - delta("answered")) <= 2,
          `${shadow.length} shadow events, ${delta("answered")} copies answered`,
        );
        assert.ok(
          delta("answered") >= 0.9 * sampled,
          `only ${delta("answered")} of ${sampled} copies answered`,
        );
        assert.ok(
          shadow.every((e) => e.data.model.version === "2.0.0"),
          "copies are the candidate's answers",
        );

        for (const [step, weight] of [
          [4, 10],
          [6, 50],
        ] as const) {
          await promote("iris");
          await pausedAt("iris", step);
          const route = await routeProgrammed("iris");
          const refs = route.spec.rules.at(-1).backendRefs.map((b: Obj) => [b.name, b.weight]);
          assert.deepEqual(refs, [
            ["iris-stable", 100 - weight],
            ["iris-canary", weight],
          ]);
          const n = 2_000;
          const got = await versionsOf("iris", "iris", n);
          assert.deepEqual(got.failed, []);
          const canary = got.versions.get("2.0.0") ?? 0;
          const [lo, hi] = binomialInterval(n, weight / 100);
          report(`setWeight ${weight}`, { requests: n, canary, share: canary / n, interval: [lo, hi] });
          assert.ok(
            canary >= lo && canary <= hi,
            `canary answered ${canary} of ${n}: outside [${lo}, ${hi}]`,
          );
          if (weight === 50) {
            // an in-cluster caller going through the Gateway gets the same split
            const inside = await inClusterVersions("iris", "iris", 400);
            const [ilo, ihi] = binomialInterval(400, 0.5);
            report("in-cluster caller at setWeight 50", {
              requests: 400,
              answers: inside,
              interval: [ilo, ihi],
            });
            assert.equal((inside["1.0.0"] ?? 0) + (inside["2.0.0"] ?? 0), 400, JSON.stringify(inside));
            assert.ok(inside["2.0.0"]! >= ilo && inside["2.0.0"]! <= ihi, JSON.stringify(inside));
          }
        }

        await promote("iris", true);
        await waitFor(
          "iris promoted to 2.0.0",
          async () => {
            const m = await getMd("iris");
            return (
              m.status?.phase === "Healthy" &&
              m.status.modelVersion === "2.0.0" &&
              m.status.revisions?.length === 1
            );
          },
          { timeoutMs: 300_000 },
        );
      },
    );

    test(
      "Given a custom container whose candidate fails 20% of requests, Then errorRate analysis on the real Prometheus rolls it back within one interval; a healthy candidate is promoted",
      slow,
      async () => {
        const echo = (version: string, env: Obj[]) =>
          example("custom-container.yaml", (m) => {
            m.metadata.name = "echo";
            m.spec.model.name = "echo";
            m.spec.model.version = version;
            m.spec.model.uri = "pvc://model-store/iris/1.0.0/train.csv";
            m.spec.runtime.container.image = "docker.io/modelship/custom-echo-server:test";
            delete m.spec.runtime.container.args;
            // the server answers with MODEL_VERSION, which modelship sets from spec.model.version
            m.spec.runtime.container.env = env;
            delete m.spec.autoscaling;
            m.spec.replicas = 1;
            // the real node has 2 cores for everything: the example's 1 CPU would leave no room for a canary
            m.spec.resources = { cpu: "100m", memory: "128Mi" };
            m.spec.rollout = {
              strategy: "canary",
              analysis: [
                {
                  name: "errors",
                  metric: "errorRate",
                  max: 0.05,
                  interval: "15s",
                  count: 3,
                  failureLimit: 0,
                  // a new pod's first scrapes give rate() no two samples yet
                  inconclusiveLimit: 4,
                },
              ],
              canary: { steps: [{ setWeight: 50 }, { analysis: { templates: ["errors"] } }] },
            };
          });
        await apply(echo("1.0.0", []));
        await waitFor("md/echo Ready", async () => cond(await getMd("echo"), "Ready")?.status === "True", {
          timeoutMs: 300_000,
        });
        await routeProgrammed("echo");
        await waitFor(
          "echo answers through the Gateway",
          async () => (await viaGateway("echo", "echo", [1, 2, 3, 4])).ok,
        );

        // A candidate that fails every fifth request.
        const traffic = steadyTraffic("echo", "echo", 2, 20);
        const t0 = Date.now();
        await apply(echo("2.0.0", [{ name: "FAIL_PERCENT", value: "20" }]));
        const rolledBack = await waitFor(
          "md/echo RolledBack",
          async () => {
            const m = await getMd("echo");
            return cond(m, "RolledBack")?.status === "True" ? m : undefined;
          },
          { timeoutMs: 300_000, intervalMs: 500 },
        );
        const decidedAt = Date.parse(cond(rolledBack, "RolledBack").lastTransitionTime);
        const route = await routeProgrammed("echo");
        await new Promise((r) => setTimeout(r, 20_000));
        const results = await traffic.stop();
        const fromCanary = results.filter((r) => r.version === "2.0.0" || r.status === 500);
        const lastCanary = Math.max(...fromCanary.map((r) => r.at));
        report("errorRate rollback", {
          requests: results.length,
          canaryAnswers: fromCanary.length,
          failed: results.filter((r) => r.status === 500).length,
          rollbackAfterMs: decidedAt - t0,
          lastCanaryAnswerAfterRollbackMs: lastCanary - decidedAt,
          message: cond(rolledBack, "RolledBack").message,
        });
        assert.ok(fromCanary.length > 0, "the candidate took part of the traffic before analysis failed it");
        assert.match(String(cond(rolledBack, "RolledBack").message), /errors|errorRate/);
        assert.ok(
          route.spec.rules.at(-1).backendRefs.every((b: Obj) => b.name === "echo-stable" || b.weight === 0),
          "the route sends everything to stable",
        );
        // the condition's time has one-second resolution: allow that beside the 15 s interval
        assert.ok(
          lastCanary - decidedAt <= 16_000,
          `the canary still answered ${lastCanary - decidedAt} ms after rollback`,
        );
        assert.ok(
          results
            .filter((r) => r.at > decidedAt + 16_000)
            .every((r) => r.status === 200 && r.version === "1.0.0"),
          "after the rollback every client gets stable's answers",
        );

        // A healthy candidate passes the same analysis and is promoted.
        const healthy = steadyTraffic("echo", "echo", 2, 20);
        await apply(echo("3.0.0", []));
        await waitFor(
          "echo promoted to 3.0.0",
          async () => {
            const m = await getMd("echo");
            return (
              m.status?.phase === "Healthy" &&
              m.status.modelVersion === "3.0.0" &&
              m.status.revisions?.length === 1
            );
          },
          { timeoutMs: 300_000 },
        );
        const after = await healthy.stop();
        assert.deepEqual(
          after.filter((r) => r.status !== 200).map((r) => r.error ?? r.status),
          [],
          "no client request failed while the healthy candidate was analysed and promoted",
        );
        await kubectl(["delete", "md", "echo", "-n", ns.name, "--wait=false"]);
      },
    );

    test(
      "Given blue-green, Then the preview Service serves the preview, and the switch on promote loses no client request",
      slow,
      async () => {
        await apply(
          example("quickstart-cpu.yaml", (m) => {
            m.spec.model.version = "3.0.0";
            m.spec.rollout = { strategy: "blueGreen", blueGreen: { scaleDownDelaySeconds: 20 } };
          }),
        );
        await waitFor(
          "the preview revision is up and waits for promotion",
          async () => {
            const m = await getMd("iris");
            const preview = (m.status?.revisions ?? []).find((r: Obj) => r.role === "preview");
            return preview && preview.readyReplicas === preview.replicas && preview.replicas > 0
              ? m
              : undefined;
          },
          { timeoutMs: 300_000 },
        );
        const previewUrl = await serviceUrl("iris-preview", ns.name);
        const p = await waitFor("the preview Service answers", async () => {
          const x = await predict(previewUrl, "iris", [flower(0)]);
          return x.ok ? x : undefined;
        });
        assert.equal(p.body!.model_version, "3.0.0", "the preview Service serves the preview");
        const before = await versionsOf("iris", "iris", 200);
        assert.deepEqual([...before.versions], [["2.0.0", 200]], "clients stay on the active revision");

        const traffic = steadyTraffic("iris", "iris", 4, 0);
        await new Promise((r) => setTimeout(r, 2_000));
        await promote("iris");
        await waitFor(
          "the Gateway serves 3.0.0 and the old revision is gone",
          async () => {
            const m = await getMd("iris");
            return (
              m.status?.phase === "Healthy" &&
              m.status.modelVersion === "3.0.0" &&
              m.status.revisions?.length === 1
            );
          },
          { timeoutMs: 300_000 },
        );
        await new Promise((r) => setTimeout(r, 3_000));
        const results = await traffic.stop();
        const failed = results.filter((r) => r.status !== 200);
        const firstNew = results.findIndex((r) => r.version === "3.0.0");
        report("blue-green switch", {
          requests: results.length,
          failed: failed.length,
          old: results.filter((r) => r.version === "2.0.0").length,
          new: results.filter((r) => r.version === "3.0.0").length,
        });
        assert.deepEqual(
          failed.map((r) => r.error ?? r.status),
          [],
          "0 failed requests across the switch",
        );
        assert.ok(firstNew >= 0, "the switch happened under traffic");
        assert.equal(results.at(-1)!.version, "3.0.0");
      },
    );
  },
);
