import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import yaml from "js-yaml";
import type { Registry } from "prom-client";
import { parseModelDeployment, type ModelDeployment } from "../api/v1alpha1/index.js";
import { createLoggerMetrics } from "../logger/metrics.js";
import { scrapeLabels } from "../observability/monitoring.js";
import { createRegistry } from "../platform/metrics.js";
import { createRuntimeMetrics } from "../runtime/metrics.js";
import { repoRoot } from "../testing/repo.js";
import { autoscaler } from "./autoscaler.js";
import { defaultRenderConfig } from "./config.js";
import { httpRoute } from "./traffic/httproute.js";

type Obj = Record<string, any>;

function load(file: string, mutate: (raw: Obj) => void = () => {}): ModelDeployment {
  const raw = yaml.load(readFileSync(join(repoRoot, "examples", file), "utf8")) as Obj;
  mutate(raw);
  const r = parseModelDeployment(raw);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.value;
}

const trafficTargets = (raw: Obj) =>
  (raw.spec.autoscaling = {
    minReplicas: 0,
    maxReplicas: 4,
    concurrency: 8,
    requestsPerSecond: 50,
    prometheusAddress: "http://prometheus:9090",
    activation: "metrics",
  });

/** The registries the model server and the logger sidecar really register their metrics on. */
function registries(): { serve: Registry; logger: Registry } {
  const serve = createRegistry("serve", { defaultMetrics: false });
  createRuntimeMetrics(serve);
  const logger = createRegistry("logger", { defaultMetrics: false });
  createLoggerMetrics(logger);
  return { serve, logger };
}

/** Each metric a PromQL query selects, with the label names its matchers use. */
function selections(query: string): { metric: string; labels: string[] }[] {
  return [...query.matchAll(/\b([a-z_:][a-z0-9_:]*)\{([^}]*)\}/g)].map((m) => ({
    metric: m[1]!,
    labels: [...m[2]!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map((l) => l[1]!),
  }));
}

test("KEDA queries read metrics the pods' processes really register, with labels those metrics have", async () => {
  const regs = registries();
  const scraped = new Set<string>(Object.values(scrapeLabels));
  const cases: [string, ModelDeployment, Registry][] = [
    ["built-in server", load("quickstart-cpu.yaml", trafficTargets), regs.serve],
    ["custom container (v2)", load("custom-container.yaml", trafficTargets), regs.logger],
    [
      "custom container (v1)",
      load("custom-container.yaml", (raw) => {
        raw.spec.runtime.container.protocol = "v1";
        trafficTargets(raw);
      }),
      regs.logger,
    ],
    [
      "custom container (http)",
      load("custom-container.yaml", (raw) => {
        raw.spec.runtime.container.protocol = "http";
        trafficTargets(raw);
      }),
      regs.logger,
    ],
  ];
  for (const [what, md, registry] of cases) {
    const so = autoscaler(md) as Obj;
    assert.equal(so.kind, "ScaledObject", what);
    const queries = (so.spec.triggers as Obj[])
      .filter((t) => t.type === "prometheus")
      .map((t) => t.metadata.query as string);
    assert.ok(queries.length > 0, `${what}: has prometheus triggers`);
    for (const q of queries) {
      const sels = selections(q);
      assert.ok(sels.length > 0, `${what}: ${q} selects a metric`);
      for (const { metric, labels } of sels) {
        const m = registry.getSingleMetric(metric) as unknown as { labelNames?: string[] } | undefined;
        assert.ok(m, `${what}: ${metric} (in ${q}) is not registered by the process in these pods`);
        for (const l of labels)
          assert.ok(
            scraped.has(l) || (m.labelNames ?? []).includes(l),
            `${what}: ${metric} has no label ${l} (in ${q})`,
          );
        // one ModelDeployment's pods, however many serve the same model name
        assert.ok(labels.includes(scrapeLabels.deployment), `${what}: ${q} selects the ModelDeployment`);
      }
    }
  }
});

test("minReplicas 0 renders an HTTPScaledObject: the interceptor routes the model's hosts to its Service and wakes it", () => {
  const md = load("custom-container.yaml", (raw) => {
    raw.metadata.namespace = "team-a";
    raw.spec.autoscaling.hosts = ["models.example.com"];
  });
  const h = autoscaler(md) as Obj;
  const name = md.metadata.name;
  assert.equal(h.apiVersion, "http.keda.sh/v1alpha1");
  assert.equal(h.kind, "HTTPScaledObject");
  assert.deepEqual(h.spec.hosts, [
    `${name}.team-a`,
    `${name}.team-a.svc`,
    `${name}.team-a.svc.cluster.local`,
    "models.example.com",
  ]);
  // KEDA scales the ModelDeployment's scale subresource; the interceptor forwards to the endpoint Service.
  assert.deepEqual(h.spec.scaleTargetRef, {
    apiVersion: "modelship.io/v1alpha1",
    kind: "ModelDeployment",
    name,
    service: name,
    port: 80,
  });
  assert.deepEqual(h.spec.replicas, { min: 0, max: 5 });
  assert.deepEqual(h.spec.scalingMetric, { concurrency: { targetValue: 8 } });
  assert.equal(h.spec.scaledownPeriod, 300);

  const rate = load("custom-container.yaml", (raw) => {
    delete raw.spec.autoscaling.concurrency;
    raw.spec.autoscaling.requestsPerSecond = 2.5;
  });
  assert.deepEqual((autoscaler(rate) as Obj).spec.scalingMetric, {
    requestRate: { targetValue: 3, window: "1m", granularity: "1s" },
  });
});

test("scale to zero through the interceptor refuses what the HTTP add-on cannot do, naming the field", () => {
  const bad: [string, (a: Obj) => void, RegExp][] = [
    ["both figures", (a) => (a.requestsPerSecond = 5), /set concurrency or requestsPerSecond, not both/],
    ["cpu", (a) => (a.cpuUtilization = 50), /remove cpuUtilization and memoryUtilization/],
    [
      "hosts without the interceptor",
      (a) => ((a.minReplicas = 1), (a.hosts = ["x"]), (a.prometheusAddress = "http://p")),
      /hosts is only used/,
    ],
    [
      "metrics activation without Prometheus",
      (a) => (a.activation = "metrics"),
      /prometheusAddress is required/,
    ],
  ];
  for (const [what, mutate, message] of bad) {
    const raw = yaml.load(readFileSync(join(repoRoot, "examples", "custom-container.yaml"), "utf8")) as Obj;
    mutate(raw.spec.autoscaling);
    const r = parseModelDeployment(raw);
    assert.ok(!r.ok, what);
    assert.match(JSON.stringify(r.errors), message, what);
  }
});

test("a Gateway route of a model that scales to zero goes to the interceptor, with the Host it routes on", () => {
  const md = load("custom-container.yaml", (raw) => {
    raw.metadata.namespace = "team-a";
    raw.spec.traffic = { provider: "gatewayAPI", parentRefs: [{ name: "inference", namespace: "gw" }] };
  });
  const route = httpRoute(md, { revisions: [], weights: { stable: 100, canary: 0 } } as never, {
    ...defaultRenderConfig,
    kedaInterceptor: "keda-system/interceptor-proxy:8080",
  }) as Obj;
  assert.deepEqual(route.spec.parentRefs, [{ name: "inference", namespace: "gw" }]);
  assert.deepEqual(route.spec.rules, [
    {
      filters: [{ type: "URLRewrite", urlRewrite: { hostname: `${md.metadata.name}.team-a` } }],
      backendRefs: [
        {
          group: "",
          kind: "Service",
          namespace: "keda-system",
          name: "interceptor-proxy",
          port: 8080,
          weight: 100,
        },
      ],
    },
  ]);
  // the rewritten Host is one the HTTPScaledObject routes
  assert.ok((autoscaler(md) as Obj).spec.hosts.includes(`${md.metadata.name}.team-a`));
});
