import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import yaml from "js-yaml";
import { parseModelDeployment, type ModelDeployment } from "../api/v1alpha1/index.js";
import { repoRoot } from "../testing/repo.js";
import { defaultRenderConfig, type RenderConfig } from "./config.js";
import { labelKeys } from "./labels.js";
import type { K8sObject } from "./object.js";
import { canaryPlan } from "./plan-file.js";
import { revisionSpecOf, stablePlan } from "./plan.js";
import { render } from "./render.js";
import { canonicalJSON, revisionOf } from "./revision.js";

// Goldens pin a fixed image so a version bump does not rewrite every file.
const cfg: RenderConfig = { ...defaultRenderConfig, image: "modelship/modelship:golden" };
const goldenDir = join(repoRoot, "src/render/testdata");
const update = process.env.UPDATE_GOLDEN === "1";

function load(file: string): ModelDeployment {
  const r = parseModelDeployment(yaml.load(readFileSync(join(repoRoot, "examples", file), "utf8")));
  if (!r.ok) throw new Error(`${file}: ${JSON.stringify(r.errors)}`);
  return r.value;
}

function toYAML(objects: K8sObject[]): string {
  return objects.map((o) => yaml.dump(o, { lineWidth: -1, noRefs: true })).join("---\n");
}

function golden(name: string, text: string) {
  const file = join(goldenDir, name);
  if (update) {
    mkdirSync(goldenDir, { recursive: true });
    writeFileSync(file, text);
    return;
  }
  let want: string;
  try {
    want = readFileSync(file, "utf8");
  } catch {
    assert.fail(`missing golden ${file}: run UPDATE_GOLDEN=1 npm test -- render`);
  }
  assert.equal(
    text,
    want,
    `${name} differs from its golden: inspect, then UPDATE_GOLDEN=1 npm test -- render`,
  );
}

const examples = readdirSync(join(repoRoot, "examples")).filter((f) => f.endsWith(".yaml"));

for (const f of examples) {
  test(`golden: ${f}`, () => {
    const md = load(f);
    golden(f, toYAML(render(md, stablePlan(md), cfg).objects));
  });
}

test("golden: canary.yaml at 20% beside the previous version, with header route and mirror", () => {
  const md = load("canary.yaml");
  const plan = {
    ...canaryPlan(md, 20, "2024-05-01"),
    headerRoute: { match: [{ name: "x-cohort", value: "beta", type: "Exact" as const }] },
    mirror: { percent: 50 },
  };
  golden("canary-at-20.yaml", toYAML(render(md, plan, cfg).objects));
});

test("golden: bluegreen.yaml with a preview revision", () => {
  const md = load("bluegreen.yaml");
  const plan = canaryPlan(md, 0, "6");
  plan.revisions[1]!.role = "preview";
  golden("bluegreen-preview.yaml", toYAML(render(md, plan, cfg).objects));
});

test("golden: canary-loadtest.yaml at its loadTest step: the Job, its ServiceAccount and least RBAC", () => {
  const md = load("canary-loadtest.yaml");
  const plan = canaryPlan(md, 0, "1.0.0");
  const stable = revisionOf(md, cfg, plan.revisions[0]!.spec).id;
  const candidate = revisionOf(md, cfg, plan.revisions[1]!.spec).id;
  const step = md.spec.rollout.canary!.steps[0]!.loadTest!;
  plan.loadTest = {
    runId: `${candidate}.0.1767225600`,
    step: 0,
    spec: step,
    candidate: { id: candidate, role: "canary" },
    stable,
    deadlineSeconds: 720,
  };
  golden("canary-loadtest-running.yaml", toYAML(render(md, plan, cfg).objects));

  // recorded requests: fetched by the init container from the uri, then replayed
  const recorded = structuredClone(plan);
  recorded.loadTest!.spec = {
    ...step,
    payload: { uri: "pvc://model-store/iris/requests.ndjson" },
    maxP99RatioToStable: undefined,
  };
  const job = render(md, recorded, cfg).objects.find((o) => o.kind === "Job") as K8sObject & {
    spec: { template: { metadata: { labels: Record<string, string> }; spec: Record<string, any> } };
  };
  const pod = job.spec.template.spec;
  assert.deepEqual(pod.initContainers[0].args.slice(0, 6), [
    "fetch",
    "--uri",
    "pvc://model-store/iris/requests.ndjson",
    "--dest",
    "/models",
    "--filename",
  ]);
  assert.ok(pod.containers[0].args.includes("/models/payload.ndjson"));
  assert.ok(!pod.containers[0].args.includes("--stable-url"), "no ratio threshold: stable is not loaded");
  assert.equal(
    job.spec.template.metadata.labels[labelKeys.deployment],
    undefined,
    "no Service selects the pod",
  );
});

test("blueGreen.previewService: false renders no <name>-preview Service, and the preview still runs", () => {
  const md = load("bluegreen.yaml");
  const names = (m: ModelDeployment) => {
    const plan = canaryPlan(m, 0, "6");
    plan.revisions[1]!.role = "preview";
    const objects = render(m, plan, cfg).objects;
    return {
      services: objects.filter((o) => o.kind === "Service").map((o) => o.metadata?.name),
      deployments: objects.filter((o) => o.kind === "Deployment").length,
    };
  };
  const name = md.metadata.name;
  assert.ok(names(md).services.includes(`${name}-preview`));
  const off = structuredClone(md);
  off.spec.rollout.blueGreen!.previewService = false;
  assert.deepEqual(names(off), {
    services: names(md).services.filter((s) => s !== `${name}-preview`),
    deployments: 2,
  });
});

test("rendering is deterministic", () => {
  for (const f of examples) {
    const md = load(f);
    assert.equal(
      toYAML(render(md, stablePlan(md), cfg).objects),
      toYAML(render(structuredClone(md), stablePlan(md), cfg).objects),
    );
  }
});

test("revision hash: same spec -> same hash; what changes the pods -> new hash; what does not -> same hash", () => {
  const md = load("quickstart-cpu.yaml");
  const base = revisionOf(md, cfg, revisionSpecOf(md.spec)).id;
  const variant = (mutate: (m: ModelDeployment) => void) => {
    const m = structuredClone(md);
    mutate(m);
    return revisionOf(m, cfg, revisionSpecOf(m.spec)).id;
  };
  const table: [string, (m: ModelDeployment) => void, boolean][] = [
    ["nothing", () => {}, false],
    ["model version", (m) => (m.spec.model.version = "1.0.1"), true],
    ["model uri", (m) => (m.spec.model.uri = "https://models.example.com/iris/other.onnx"), true],
    ["memory", (m) => (m.spec.resources.memory = "1Gi"), true],
    ["gpu", (m) => (m.spec.resources.gpu = { count: 1, tolerateTaint: true }), true],
    ["sample rate", (m) => (m.spec.logging.sampleRate = 0.5), true],
    ["replicas", (m) => (m.spec.replicas = 7), false],
    ["rollout strategy", (m) => (m.spec.rollout.strategy = "blueGreen"), false],
    [
      "autoscaling",
      (m) =>
        (m.spec.autoscaling = { minReplicas: 1, maxReplicas: 4, cpuUtilization: 50, cooldownSeconds: 300 }),
      false,
    ],
    ["labels on the ModelDeployment", (m) => (m.metadata.labels = { team: "x" }), false],
  ];
  for (const [what, mutate, changes] of table) {
    const id = variant(mutate);
    assert.match(id, /^[0-9a-f]{10}$/);
    assert.equal(
      id !== base,
      changes,
      `changing ${what} ${changes ? "must" : "must not"} change the revision hash`,
    );
  }
});

test("every child carries owner labels and the ModelDeployment's namespace", () => {
  for (const f of examples) {
    const md = load(f);
    for (const o of render(md, stablePlan(md), cfg).objects) {
      assert.equal(
        o.metadata?.labels?.[labelKeys.deployment],
        md.metadata.name,
        `${o.kind}/${o.metadata?.name}`,
      );
      assert.equal(o.metadata?.labels?.[labelKeys.managedBy], "modelship");
      assert.equal(o.metadata?.namespace, md.metadata.namespace);
    }
  }
});

test("pods follow the restricted Pod Security profile; serve records its own events, the logger fronts custom containers", () => {
  const md = load("quickstart-cpu.yaml");
  const dep = render(md, stablePlan(md), cfg).objects.find((o) => o.kind === "Deployment") as Record<
    string,
    any
  >;
  const pod = dep.spec.template.spec;
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.equal(pod.securityContext.seccompProfile.type, "RuntimeDefault");
  for (const c of [...pod.initContainers, ...pod.containers]) {
    assert.equal(c.securityContext.readOnlyRootFilesystem, true, c.name);
    assert.deepEqual(c.securityContext.capabilities.drop, ["ALL"], c.name);
    assert.equal(c.securityContext.allowPrivilegeEscalation, false, c.name);
  }
  // one serving container (plus fetch): no proxy hop in front of the built-in server
  assert.deepEqual(
    pod.initContainers.map((c: { name: string }) => c.name),
    ["fetch"],
  );
  const serve = pod.containers[0];
  assert.equal(serve.readinessProbe.httpGet.path, "/v2/health/ready");
  assert.ok(serve.args.includes("--sink") && serve.args.includes("--variant-file"), "serve writes events");
  assert.ok(serve.volumeMounts.some((m: { name: string }) => m.name === "spool"));
  assert.equal(serve.ports[0].name, "http");

  const custom = load("custom-container.yaml");
  const cdep = render(custom, stablePlan(custom), cfg).objects.find((o) => o.kind === "Deployment") as Record<
    string,
    any
  >;
  const cpod = cdep.spec.template.spec;
  assert.deepEqual(
    cpod.initContainers.map((c: { name: string }) => c.name),
    ["fetch", "logger"],
  );
  assert.equal(cpod.initContainers[1].restartPolicy, "Always");
});

test("GPU pods request GPUs, select the product and tolerate the taint; MIG requests the slice", () => {
  const md = load("gpu-autoscaling.yaml");
  const dep = render(md, stablePlan(md), cfg).objects.find((o) => o.kind === "Deployment") as Record<
    string,
    any
  >;
  const pod = dep.spec.template.spec;
  assert.equal(pod.containers[0].resources.limits["nvidia.com/gpu"], "1");
  assert.equal(pod.nodeSelector["nvidia.com/gpu.product"], "NVIDIA-H100-80GB-HBM3");
  assert.ok(pod.tolerations.some((t: { key: string }) => t.key === "nvidia.com/gpu"));
  const mig = structuredClone(md);
  mig.spec.resources.gpu = { count: 2, migProfile: "1g.10gb", tolerateTaint: true };
  const migDep = render(mig, stablePlan(mig), cfg).objects.find((o) => o.kind === "Deployment") as Record<
    string,
    any
  >;
  assert.equal(migDep.spec.template.spec.containers[0].resources.limits["nvidia.com/mig-1g.10gb"], "2");
});

test("the autoscaler scales the ModelDeployment; KEDA only for scale to zero or traffic targets", () => {
  const gpu = load("gpu-autoscaling.yaml");
  const hpa = render(gpu, stablePlan(gpu), cfg).objects.find(
    (o) => o.kind === "HorizontalPodAutoscaler",
  ) as Record<string, any>;
  assert.deepEqual(hpa.spec.scaleTargetRef, {
    apiVersion: "modelship.io/v1alpha1",
    kind: "ModelDeployment",
    name: "resnet",
  });
  const custom = load("custom-container.yaml");
  const kinds = render(custom, stablePlan(custom), cfg).objects.map((o) => o.kind);
  assert.ok(kinds.includes("HTTPScaledObject") && !kinds.includes("HorizontalPodAutoscaler"), kinds.join());
  assert.ok(!kinds.includes("ScaledObject"), "the HTTP add-on makes the ScaledObject itself");
  custom.spec.autoscaling = {
    ...custom.spec.autoscaling!,
    minReplicas: 1,
    prometheusAddress: "http://p:9090",
  };
  const traffic = render(custom, stablePlan(custom), cfg).objects.map((o) => o.kind);
  assert.ok(traffic.includes("ScaledObject") && !traffic.includes("HTTPScaledObject"), traffic.join());
});

test("canary weights land in the HTTPRoute and sum to 100", () => {
  const md = load("canary.yaml");
  for (const w of [0, 10, 50, 100]) {
    const route = render(md, canaryPlan(md, w, "2024-05-01"), cfg).objects.find(
      (o) => o.kind === "HTTPRoute",
    ) as Record<string, any>;
    const refs = route.spec.rules.at(-1).backendRefs as { name: string; weight: number }[];
    assert.deepEqual(
      refs.map((r) => [r.name, r.weight]),
      [
        ["fraud-stable", 100 - w],
        ["fraud-canary", w],
      ],
    );
  }
});

test("a revision rendered again from its stored spec (the Deployment annotation) keeps its id", () => {
  for (const f of examples) {
    const md = load(f);
    const spec = revisionSpecOf(md.spec);
    const stored = JSON.parse(canonicalJSON(spec)) as typeof spec;
    assert.equal(revisionOf(md, cfg, stored).id, revisionOf(md, cfg, spec).id, f);
  }
});
