// Scale to zero with activation on real pods: KEDA v2.14.1 and its HTTP add-on v0.8.0 built from their Go
// modules and installed as a platform team would (e2e/cluster/keda-up.sh), the chart's controller, and iris
// with `autoscaling.minReplicas: 0`. The controller renders an HTTPScaledObject; idle, the model has no pod;
// the first request through the interceptor waits while KEDA wakes the ModelDeployment and succeeds;
// concurrent load scales it out through the HPA on the interceptor's own counts (KEDA's external metrics
// API); idle again, it goes back to zero. Each test is a step of one story, in order.
// Run with `npm run test:e2e -- scale-to-zero`.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import yaml from "js-yaml";
import { Agent } from "undici";
import {
  clusterEnv,
  createNamespace,
  helm,
  kubectl,
  kubectlJson,
  repoRoot,
  run,
  waitFor,
  type TestNamespace,
} from "./lib/index.js";
import { installChart } from "./lib/chart.js";
import { edgeEnv } from "./lib/env.js";
import { flower, predict, serviceUrl, type Prediction } from "./lib/inference.js";
import { irisReference } from "../src/testing/onnx/iris.js";

type Obj = Record<string, any>;

const env = clusterEnv();
const release = "ms-zero";
const systemNs = "ms-zero-system";
const slow = { timeout: 900_000 };
let ns: TestNamespace;
let interceptor: string;
let kedaInstalled = false;

const cooldownSeconds = 20;
const edge = edgeEnv();

function manifest(): Obj {
  const md = yaml.load(readFileSync(join(repoRoot, "examples/quickstart-cpu.yaml"), "utf8")) as Obj;
  md.metadata.namespace = ns.name;
  delete md.spec.monitoring;
  md.spec.replicas = 1;
  md.spec.resources = { cpu: "100m", memory: "256Mi" };
  md.spec.autoscaling = { minReplicas: 0, maxReplicas: 2, concurrency: 1, cooldownSeconds };
  return md;
}

const getMd = () => kubectlJson<Obj>(["get", "md", "iris", "-n", ns.name]);
async function modelPods(): Promise<Obj[]> {
  const list = await kubectlJson<{ items: Obj[] }>([
    "get",
    "pods",
    "-n",
    ns.name,
    "-l",
    "modelship.io/deployment=iris",
  ]);
  return list.items;
}
const patchIris = (patch: Obj) =>
  kubectl(["patch", "md", "iris", "-n", ns.name, "--type=merge", "-p", JSON.stringify(patch)]);
/** Waits until KEDA has scaled iris to zero and its last pod is gone. */
const untilZero = () =>
  waitFor(
    "iris back at zero pods",
    async () => (await getMd()).spec.replicas === 0 && (await modelPods()).length === 0,
    { timeoutMs: 300_000, intervalMs: 2_000 },
  );
const ready = (p: Obj) =>
  !p.metadata.deletionTimestamp &&
  (p.status?.conditions ?? []).some((c: Obj) => c.type === "Ready" && c.status === "True");

/** A request through KEDA's interceptor, addressed to the model by its Service's cluster name. */
function viaInterceptor(
  row: number[],
  opts: { timeoutMs?: number; dispatcher?: Agent } = {},
): Promise<Prediction> {
  return predict(interceptor, "iris", [row], { headers: { host: `iris.${ns.name}` }, ...opts });
}

before(async () => {
  if (!env.bundled) return;
  await run("bash", [join(repoRoot, "scripts/image.sh")], { timeoutMs: 1_200_000 });
  await run("bash", [join(repoRoot, "e2e/cluster/load-images.sh")], { timeoutMs: 300_000 });
  // First run: builds KEDA and the add-on from the Go module proxy (5-15 min each on 2 cores), then cached.
  kedaInstalled = true;
  await run("bash", [join(repoRoot, "e2e/cluster/keda-up.sh")], {
    timeoutMs: 2_700_000,
    env: { ...process.env, KUBECONFIG: env.kubeconfig },
  });
  interceptor = await serviceUrl("keda-add-ons-http-interceptor-proxy", "keda");
  ns = await createNamespace("zero", env, { pods: "real" });
  await installChart(release, systemNs, ns.name, ["--set", "controller.replicas=1"]);
});

after(async () => {
  await helm(["uninstall", release, "-n", systemNs, "--wait"], { allowFailure: true, timeoutMs: 300_000 });
  await kubectl(["delete", "namespace", systemNs, "--ignore-not-found", "--wait=false"], {
    allowFailure: true,
  });
  await kubectl(["delete", "md", "--all", "-n", ns?.name ?? "none", "--wait"], {
    allowFailure: true,
    timeoutMs: 120_000,
  });
  await ns?.delete();
  if (kedaInstalled)
    await run("bash", [join(repoRoot, "e2e/cluster/keda-down.sh")], {
      timeoutMs: 600_000,
      env: { ...process.env, KUBECONFIG: env.kubeconfig },
    });
});

describe(
  "scale to zero with activation on real pods",
  { skip: (!env.bundled || !edge) && "needs the bundled cluster's real node and Gateway" },
  () => {
    test(
      "Given iris with minReplicas 0, When it is applied, Then an HTTPScaledObject routes its hosts, KEDA's ScaledObject targets the ModelDeployment, and idle it has no pod",
      slow,
      async () => {
        await kubectl(["apply", "-f", "-"], { input: JSON.stringify(manifest()) });
        const hso = await waitFor(
          "the HTTPScaledObject, Ready",
          async () => {
            const h = await kubectlJson<Obj>(["get", "httpscaledobject", "iris", "-n", ns.name]).catch(
              () => undefined,
            );
            return (h?.status?.conditions ?? []).some((c: Obj) => c.type === "Ready" && c.status === "True")
              ? h
              : undefined;
          },
          { timeoutMs: 120_000 },
        );
        assert.ok(hso.spec.hosts.includes(`iris.${ns.name}`));
        assert.deepEqual(hso.spec.scalingMetric, { concurrency: { targetValue: 1 } });
        const so = await kubectlJson<Obj>(["get", "scaledobject", "iris", "-n", ns.name]);
        assert.deepEqual(
          { kind: so.spec.scaleTargetRef.kind, name: so.spec.scaleTargetRef.name },
          { kind: "ModelDeployment", name: "iris" },
        );
        assert.equal(so.spec.triggers[0].type, "external-push", "the add-on's scaler, pushed to KEDA");

        const idle = await waitFor(
          "iris scaled to zero: no pod, status says so",
          async () => {
            const [m, pods] = [await getMd(), await modelPods()];
            const zero = m.spec.replicas === 0 && pods.length === 0;
            return zero && m.status?.phase !== undefined ? m : undefined;
          },
          { timeoutMs: 300_000, intervalMs: 2_000 },
        ).catch(async (err: Error) => {
          throw new Error(`${err.message}; md: ${JSON.stringify((await getMd()).status)}`);
        });
        const conds = (idle.status.conditions ?? []) as Obj[];
        console.log(
          `[scale-to-zero] idle: phase ${idle.status.phase}; ${conds.map((c) => `${c.type}=${c.status}(${c.reason})`).join(" ")}`,
        );
        assert.ok(
          conds.some((c) => c.reason === "ScaledToZero"),
          `a condition says it is scaled to zero: ${JSON.stringify(conds)}`,
        );
        const readyMessage = conds.find((c) => c.type === "Ready")!.message as string;
        assert.match(
          readyMessage,
          new RegExp(`keda-add-ons-http-interceptor-proxy\\.keda:8080, Host: iris\\.${ns.name}\\)`),
        );
      },
    );

    test(
      "When the first request arrives through the interceptor, Then it waits while a pod starts and gets the model's answer",
      slow,
      async () => {
        assert.equal((await modelPods()).length, 0, "starts from zero pods");
        const row = flower(0);
        const first = await viaInterceptor(row, { timeoutMs: 150_000 });
        assert.equal(first.status, 200, JSON.stringify(first));
        const label = (first.body!.outputs as Obj[]).find((o) => o.name === "label")!;
        assert.deepEqual(label.data, [irisReference(row).label]);
        console.log(
          `[scale-to-zero] the first request waited ${(first.ms / 1000).toFixed(1)} s for a cold start`,
        );
        assert.ok(first.ms > 500, "it was held while a pod started, not answered by a running one");
        const m = await getMd();
        assert.ok(m.spec.replicas >= 1, "KEDA scaled the ModelDeployment up");
        assert.ok((await modelPods()).some(ready));
        // Once warm, requests pass straight through.
        const warm = await viaInterceptor(flower(1));
        assert.equal(warm.status, 200);
        console.log(`[scale-to-zero] a warm request through the interceptor took ${warm.ms.toFixed(1)} ms`);
      },
    );

    test(
      "When 6 clients keep requests in flight, Then the HPA reads the interceptor's concurrency through KEDA's metrics API and scales out to maxReplicas",
      slow,
      async () => {
        const dispatcher = new Agent({ connections: 8 });
        let done = false;
        let sent = 0;
        let failed = 0;
        const clients = Array.from({ length: 6 }, async (_, i) => {
          while (!done) {
            const r = await viaInterceptor(flower(i), { dispatcher });
            sent++;
            if (!r.ok) failed++;
          }
        });
        try {
          await waitFor("iris scaled out to 2 replicas", async () => (await getMd()).spec.replicas === 2, {
            timeoutMs: 240_000,
            intervalMs: 2_000,
          });
        } finally {
          done = true;
          await Promise.all(clients);
          await dispatcher.close();
        }
        const hpa = await kubectlJson<Obj>(["get", "hpa", "keda-hpa-iris", "-n", ns.name]);
        const metric = (hpa.status?.currentMetrics ?? [])[0];
        console.log(
          `[scale-to-zero] scaled out after ${sent} requests (${failed} failed); HPA metric ${JSON.stringify(metric)}`,
        );
        assert.equal(metric?.type, "External", "the HPA reads an external metric: KEDA's adapter");
        assert.equal(failed, 0);
        await waitFor("2 iris pods Ready", async () => (await modelPods()).filter(ready).length === 2, {
          timeoutMs: 180_000,
        });
      },
    );

    test(
      `When traffic stops for the cooldown (${cooldownSeconds} s), Then iris goes back to zero pods, and a request wakes it again`,
      slow,
      async () => {
        await untilZero();
        const again = await viaInterceptor(flower(2), { timeoutMs: 150_000 });
        assert.equal(again.status, 200, JSON.stringify(again));
        console.log(`[scale-to-zero] woke again in ${(again.ms / 1000).toFixed(1)} s`);
      },
    );

    test(
      "When the target is a request rate (2/s) and 20 requests/s arrive, Then the HPA scales out on the interceptor's rate",
      slow,
      async () => {
        await patchIris({
          spec: { autoscaling: { concurrency: null, requestsPerSecond: 2 } },
        });
        await waitFor(
          "the HTTPScaledObject scales on the request rate",
          async () => {
            const h = await kubectlJson<Obj>(["get", "httpscaledobject", "iris", "-n", ns.name]);
            return h.spec.scalingMetric?.requestRate?.targetValue === 2;
          },
          { timeoutMs: 60_000 },
        );
        // From zero again, so the scale-out below comes from the rate, not from an HPA state left over.
        await untilZero();
        let done = false;
        let sent = 0;
        let failed = 0;
        // open loop: one request every 50 ms, whatever the answers
        const pending: Promise<void>[] = [];
        const ticker = setInterval(() => {
          if (done) return;
          pending.push(
            viaInterceptor(flower(sent), { timeoutMs: 150_000 }).then((r) => {
              if (!r.ok) failed++;
            }),
          );
          sent++;
        }, 50);
        try {
          await waitFor(
            "iris scaled out to 2 replicas on the rate",
            async () => (await getMd()).spec.replicas === 2,
            {
              timeoutMs: 240_000,
              intervalMs: 2_000,
            },
          );
        } finally {
          done = true;
          clearInterval(ticker);
          await Promise.all(pending);
        }
        const hpa = await kubectlJson<Obj>(["get", "hpa", "keda-hpa-iris", "-n", ns.name]);
        const metric = (hpa.status?.currentMetrics ?? [])[0];
        console.log(
          `[scale-to-zero] rate: scaled out after ${sent} requests (${failed} failed); HPA metric ${JSON.stringify(metric)}`,
        );
        assert.equal(metric?.type, "External");
        // At 20 requests/s and a few ms each, about 0.1 request is in flight: only the rate scales out to 2.
        assert.ok(
          quantity(metric.external.current.averageValue) >= 2,
          `the HPA saw the rate per replica, not the concurrency: ${metric.external.current.averageValue}`,
        );
        assert.equal(failed, 0);
      },
    );

    test(
      "Given the model behind the cluster's Gateway, When it is idle and a request comes through the Gateway, Then the route's interceptor backend holds it while a pod starts",
      slow,
      async () => {
        const host = `iris.${ns.name}.zero.modelship.test`;
        // The platform's grant: HTTPRoutes of the model's namespace may send to the interceptor.
        await kubectl(["apply", "-f", "-"], {
          input: JSON.stringify({
            apiVersion: "gateway.networking.k8s.io/v1beta1",
            kind: "ReferenceGrant",
            metadata: { name: `routes-from-${ns.name}`, namespace: "keda" },
            spec: {
              from: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute", namespace: ns.name }],
              to: [{ group: "", kind: "Service", name: "keda-add-ons-http-interceptor-proxy" }],
            },
          }),
        });
        await patchIris({
          spec: {
            traffic: {
              provider: "gatewayAPI",
              parentRefs: [{ name: "inference", namespace: "modelship-gateway" }],
              hostnames: [host],
            },
          },
        });
        const route = await waitFor(
          "the HTTPRoute to the interceptor, accepted with its reference resolved",
          async () => {
            const r = await kubectlJson<Obj>(["get", "httproute", "iris", "-n", ns.name]).catch(
              () => undefined,
            );
            const conds = ((r?.status?.parents ?? [])[0]?.conditions ?? []) as Obj[];
            const ok = (t: string) => conds.some((c) => c.type === t && c.status === "True");
            return ok("Accepted") && ok("ResolvedRefs") ? r : undefined;
          },
          { timeoutMs: 60_000 },
        );
        assert.deepEqual(
          route.spec.rules[0].backendRefs.map((b: Obj) => `${b.namespace}/${b.name}:${b.port}`),
          ["keda/keda-add-ons-http-interceptor-proxy:8080"],
        );
        await untilZero();
        const row = flower(1);
        const viaGateway = await predict(edge!.gatewayUrl, "iris", [row], {
          headers: { host },
          timeoutMs: 150_000,
        });
        assert.equal(viaGateway.status, 200, JSON.stringify(viaGateway));
        const label = (viaGateway.body!.outputs as Obj[]).find((o) => o.name === "label")!;
        assert.deepEqual(label.data, [irisReference(row).label]);
        console.log(
          `[scale-to-zero] through the Gateway from zero pods: answered in ${(viaGateway.ms / 1000).toFixed(1)} s`,
        );
        assert.ok(viaGateway.ms > 500, "it was held while a pod started");
      },
    );
  },
);

/** A Kubernetes quantity as the HPA writes metric values ("4", "1500m"). */
function quantity(q: string): number {
  return q.endsWith("m") ? Number(q.slice(0, -1)) / 1000 : Number(q);
}
