// bench/controller: 1,000 ModelDeployments against the real e2e control plane (kwok nodes).
//   npm run bench:controller [-- --count 1000 --workers 4 --baseline false --node-options=--optimize-for-size]
// Baseline, side by side in the same run and cluster: the same 1,000 pod templates applied directly as plain
// Deployments (what the platform alone costs). Reports time-to-Ready for both and their ratio, reconciles/s,
// write calls during a full resync (must be 0), controller RSS and heap per cached object.
import { readFileSync } from "node:fs";
import yaml from "js-yaml";
import { parseArgs } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import { KubeClient, loadKubeConfig } from "../../src/k8s/client.js";
import { resourcePath, resourceTypes } from "../../src/k8s/resources.js";
import { startController } from "../../e2e/controller/harness.js";
import { clusterEnv, kubectl, repoRoot, run as exec } from "../../e2e/lib/index.js";
import { simulatedNamespaceAnnotations } from "../../e2e/lib/namespace.js";

const { values } = parseArgs({
  options: {
    count: { type: "string", default: "1000" },
    workers: { type: "string", default: "4" },
    // Default: what the chart gives the controller (controller.nodeOptions).
    "node-options": { type: "string" },
    // false: skip the plain-Deployments baseline (memory-only runs; no time ratio)
    baseline: { type: "string", default: "true" },
  },
});
const count = Number(values.count);
const log = (msg: string) =>
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

const env = clusterEnv();
const client = await KubeClient.create(loadKubeConfig(env.kubeconfig));

async function pool<T>(items: T[], n: number, fn: (t: T) => Promise<unknown>) {
  let i = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (i < items.length) await fn(items[i++]!);
    }),
  );
}

/** Its pods go to the kwok nodes only (the real node, when there is one, cannot pull the bench image). */
async function ensureNamespace(name: string) {
  await kubectl(["create", "namespace", name], { allowFailure: true });
  await kubectl([
    "annotate",
    "namespace",
    name,
    ...Object.entries(simulatedNamespaceAnnotations).map(([k, v]) => `${k}=${v}`),
  ]);
}

// Room for the pods: bench-only kwok CPU nodes (the e2e cluster's own nodes hold 220 untainted pods).
async function addNodes(n: number) {
  const nodes = Array.from({ length: n }, (_, i) => ({
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name: `bench-cpu-${i}`,
      annotations: { "kwok.x-k8s.io/node": "fake" },
      labels: { "kubernetes.io/hostname": `bench-cpu-${i}`, type: "kwok", "modelship.io/bench": "true" },
    },
    spec: { taints: [] },
    status: {
      capacity: { cpu: "256", memory: "1024Gi", pods: "600" },
      allocatable: { cpu: "256", memory: "1024Gi", pods: "600" },
    },
  }));
  await kubectl(["apply", "-f", "-"], { input: nodes.map((x) => JSON.stringify(x)).join("\n") });
}

function md(ns: string, i: number) {
  return {
    apiVersion: "modelship.io/v1alpha1",
    kind: "ModelDeployment",
    metadata: { name: `m${i}`, namespace: ns },
    spec: {
      model: { name: "m", version: "1", uri: "https://models.example.com/m.onnx" },
      replicas: 1,
      resources: { cpu: "10m", memory: "16Mi" },
    },
  };
}

async function countReady(path: string, isReady: (o: any) => boolean): Promise<number> {
  const list = await client.get<{ items: any[] }>(path, { limit: 5000 });
  return list.items.filter(isReady).length;
}

async function waitAll(
  what: string,
  path: string,
  isReady: (o: any) => boolean,
  t0: number,
): Promise<number> {
  let last = -1;
  for (;;) {
    const n = await countReady(path, isReady);
    if (n !== last) log(`${what}: ${n}/${count} ready after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    last = n;
    if (n >= count) return (Date.now() - t0) / 1000;
    if (Date.now() - t0 > 900_000) throw new Error(`${what}: only ${n}/${count} after 15 min`);
    await sleep(1000);
  }
}

const mdReady = (o: any) =>
  (o.status?.conditions ?? []).some((c: any) => c.type === "Ready" && c.status === "True");
const depReady = (o: any) => (o.status?.availableReplicas ?? 0) >= 1;

await kubectl(["apply", "--server-side", "-f", `${repoRoot}/crds`]);
await addNodes(Math.ceil((count * 2) / 550));
const run = Date.now().toString(36);

// Baseline: the same number of plain Deployments, straight to the API server.
let baseSeconds = NaN;
if (values.baseline !== "false") {
  const baseNs = `bench-base-${run}`;
  await ensureNamespace(baseNs);
  log(`baseline: creating ${count} Deployments`);
  const t0 = Date.now();
  await pool([...Array(count).keys()], 16, (i) =>
    client.request("POST", resourcePath(resourceTypes.Deployment, baseNs), {
      body: {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: `d${i}`, namespace: baseNs },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: `d${i}` } },
          template: {
            metadata: { labels: { app: `d${i}` } },
            spec: {
              containers: [
                {
                  name: "c",
                  image: "modelship/modelship:bench",
                  resources: { requests: { cpu: "10m", memory: "16Mi" } },
                },
              ],
            },
          },
        },
      },
    }),
  );
  baseSeconds = await waitAll(
    "baseline Deployments",
    resourcePath(resourceTypes.Deployment, baseNs),
    depReady,
    t0,
  );
  await kubectl(["delete", "namespace", baseNs, "--wait=false"]);
}

// modelship: ModelDeployments through the controller.
const ns = `bench-md-${run}`;
await ensureNamespace(ns);
const chartValues = yaml.load(readFileSync(`${repoRoot}/charts/modelship/values.yaml`, "utf8")) as {
  controller: { nodeOptions: string };
};
const nodeOptions = values["node-options"] ?? chartValues.controller.nodeOptions;
log("building the controller (npm run build): memory is measured on the compiled code the image runs");
await exec("npm", ["run", "build"], { timeoutMs: 600_000 });
const ctl = await startController(
  [
    "--leader-elect=false",
    "--namespaces",
    ns,
    "--workers",
    String(values.workers),
    "--resync-seconds",
    "60",
    "--log-level",
    "warn",
  ],
  { built: true },
);
await sleep(3000);
log(`modelship: creating ${count} ModelDeployments`);
const t0 = Date.now();
await pool([...Array(count).keys()], 16, (i) =>
  client.request("POST", resourcePath(resourceTypes.ModelDeployment, ns), { body: md(ns, i) }),
);
const createSeconds = (Date.now() - t0) / 1000;
const mdSeconds = await waitAll(
  "ModelDeployments",
  resourcePath(resourceTypes.ModelDeployment, ns),
  mdReady,
  t0,
);
const reconciles = await ctl.metric("modelship_reconciles_total");

log("waiting for a full resync (60 s period) to count write calls");
await sleep(5000);
const writesBefore = await ctl.metric("modelship_controller_writes_total");
const reconcilesBefore = await ctl.metric("modelship_reconciles_total");
await sleep(70_000);
const writesDuringResync = (await ctl.metric("modelship_controller_writes_total")) - writesBefore;
const resyncReconciles = (await ctl.metric("modelship_reconciles_total")) - reconcilesBefore;

// Idle now: the smallest of 10 samples, 1 s apart, is the live heap with the least uncollected garbage.
let heap = Infinity;
let rssKb = Infinity;
for (let i = 0; i < 10; i++) {
  heap = Math.min(heap, await ctl.metric("modelship_process_nodejs_heap_size_used_bytes"));
  const status = readFileSync(`/proc/${ctl.proc.pid}/status`, "utf8");
  rssKb = Math.min(rssKb, Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0));
  await sleep(1000);
}
// Where the RSS is: V8's heap (committed), memory outside it (Buffers), and anonymous vs file-backed pages.
const heapTotal = await ctl.metric("modelship_process_nodejs_heap_size_total_bytes");
const external = await ctl.metric("modelship_process_nodejs_external_memory_bytes");
const rollup = readFileSync(`/proc/${ctl.proc.pid}/smaps_rollup`, "utf8");
const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(rollup)?.[1] ?? 0);
const rssParts = {
  anonymousMB: +(kb("Anonymous") / 1024).toFixed(1),
  fileMB: +((kb("Rss") - kb("Anonymous")) / 1024).toFixed(1),
};
const cachedByKind = Object.fromEntries(
  await Promise.all(
    ["ModelDeployment", "Deployment", "Service", "ConfigMap", "PodDisruptionBudget", "Pod", "Node"].map(
      async (kind) =>
        [
          kind,
          {
            objects: await ctl.metric("modelship_informer_cached_objects", { kind }),
            jsonBytes: await ctl.metric("modelship_informer_cached_json_bytes", { kind }),
          },
        ] as const,
    ),
  ),
);
const cached = await ctl.metric("modelship_informer_cached_objects");
await ctl.stop();
await kubectl(["delete", "namespace", ns, "--wait=false"]);
await kubectl(["delete", "nodes", "-l", "modelship.io/bench=true", "--wait=false"]);
await client.close();

const result = {
  count,
  workers: Number(values.workers),
  nodeOptions,
  baselineDeploymentsReadySeconds: Number.isNaN(baseSeconds) ? null : +baseSeconds.toFixed(1),
  modelDeploymentsCreateSeconds: +createSeconds.toFixed(1),
  modelDeploymentsReadySeconds: +mdSeconds.toFixed(1),
  ratioToBaseline: Number.isNaN(baseSeconds) ? null : +(mdSeconds / baseSeconds).toFixed(2),
  reconcilesTotal: reconciles,
  reconcilesPerSecond: +(reconciles / mdSeconds).toFixed(1),
  resyncReconciles,
  writesDuringResync,
  controllerRssMB: +(rssKb / 1024).toFixed(1),
  heapUsedMB: +(heap / 1048576).toFixed(1),
  heapTotalMB: +(heapTotal / 1048576).toFixed(1),
  externalMB: +(external / 1048576).toFixed(1),
  rssParts,
  cachedObjects: cached,
  cachedByKind,
  heapBytesPerCachedObject: Math.round(heap / Math.max(1, cached)),
};
console.log(JSON.stringify(result, null, 2));
