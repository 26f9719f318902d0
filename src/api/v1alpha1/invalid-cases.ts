/**
 * ModelDeployments that must be rejected, with the words the rejection must contain. The unit tests run them
 * through zod; the e2e tests `kubectl apply` them and expect the API server's schema/CEL message.
 */
export interface InvalidCase {
  name: string;
  /** Applied to a copy of a valid base object. */
  mutate: (md: Record<string, any>) => void;
  /** Words both zod and the API server must say (the field and the fix). */
  expect: string;
}

export function validBase(): Record<string, any> {
  return {
    apiVersion: "modelship.io/v1alpha1",
    kind: "ModelDeployment",
    metadata: { name: "invalid-case", namespace: "default" },
    spec: {
      model: { name: "iris", version: "1", uri: "https://models.example.com/iris.onnx" },
    },
  };
}

export const invalidCases: InvalidCase[] = [
  {
    name: "loadTest without a threshold",
    mutate: (md) =>
      (md.spec.rollout = {
        strategy: "canary",
        canary: { steps: [{ loadTest: { rate: 10, duration: "30s" } }] },
      }),
    expect: "loadTest needs a threshold",
  },
  {
    name: "loadTest payload both synthetic and uri",
    mutate: (md) =>
      (md.spec.rollout = {
        strategy: "canary",
        canary: {
          steps: [
            {
              loadTest: {
                rate: 10,
                duration: "30s",
                maxP99Ms: 100,
                payload: { synthetic: {}, uri: "pvc://store/requests.ndjson" },
              },
            },
          ],
        },
      }),
    expect: "set exactly one of synthetic and uri",
  },
  {
    name: "blue-green loadTest without a preview Service",
    mutate: (md) =>
      (md.spec.rollout = {
        strategy: "blueGreen",
        blueGreen: { previewService: false, loadTest: { rate: 10, duration: "30s", maxP99Ms: 100 } },
      }),
    expect: "blueGreen.loadTest loads the preview Service",
  },
  { name: "missing model uri", mutate: (md) => delete md.spec.model.uri, expect: "uri" },
  {
    name: "unknown uri scheme",
    mutate: (md) => (md.spec.model.uri = "ftp://host/model.onnx"),
    expect: "pvc://CLAIM/path",
  },
  {
    name: "pvc uri without a path",
    mutate: (md) => (md.spec.model.uri = "pvc://claim-only"),
    expect: "pvc://CLAIM/path",
  },
  {
    name: "weight above 100",
    mutate: (md) => (md.spec.rollout = { strategy: "canary", canary: { steps: [{ setWeight: 120 }] } }),
    expect: "setWeight",
  },
  {
    name: "minReplicas above maxReplicas",
    mutate: (md) => (md.spec.autoscaling = { minReplicas: 5, maxReplicas: 2, cpuUtilization: 70 }),
    expect: "minReplicas must be <= maxReplicas",
  },
  {
    name: "both canary and blueGreen",
    mutate: (md) =>
      (md.spec.rollout = {
        strategy: "canary",
        canary: { steps: [{ setWeight: 10 }] },
        blueGreen: { autoPromote: true },
      }),
    expect: "either canary or blueGreen, not both",
  },
  {
    name: "gpu count 0 with a product",
    mutate: (md) => (md.spec.resources = { gpu: { count: 0, product: "NVIDIA-H100-80GB-HBM3" } }),
    expect: "set count >= 1",
  },
  {
    name: "canary strategy without steps",
    mutate: (md) => (md.spec.rollout = { strategy: "canary" }),
    expect: "canary.steps is required when strategy is canary",
  },
  {
    name: "a step with two actions",
    mutate: (md) =>
      (md.spec.rollout = { strategy: "canary", canary: { steps: [{ setWeight: 10, pause: {} }] } }),
    expect: "exactly one of setWeight",
  },
  {
    name: "cuda without gpus",
    mutate: (md) => (md.spec.runtime = { executionProvider: "cuda" }),
    expect: "set spec.resources.gpu.count >= 1",
  },
  {
    name: "header route on the plain Service provider",
    mutate: (md) =>
      (md.spec.rollout = {
        strategy: "canary",
        canary: { steps: [{ setHeaderRoute: { match: [{ name: "x-cohort", value: "beta" }] } }] },
      }),
    expect: "set spec.traffic.provider to gatewayAPI or istio",
  },
  {
    name: "router mirroring on the plain Service provider",
    mutate: (md) => (md.spec.traffic = { provider: "service", mirror: "router" }),
    expect: "spec.traffic.mirror: router needs a router",
  },
  {
    name: "data-plane mirroring without the event logger",
    mutate: (md) => {
      md.spec.logging = { ...md.spec.logging, enabled: false };
      md.spec.rollout = { strategy: "canary", canary: { steps: [{ setMirror: { percent: 50 } }] } };
    },
    expect: "setMirror copies in the data plane",
  },
  {
    name: "gatewayAPI without parentRefs",
    mutate: (md) => (md.spec.traffic = { provider: "gatewayAPI" }),
    expect: "parentRefs is required for provider gatewayAPI",
  },
  {
    name: "a Service parentRef (GAMMA) without the core group",
    mutate: (md) =>
      (md.spec.traffic = { provider: "gatewayAPI", parentRefs: [{ kind: "Service", name: "fraud" }] }),
    expect: 'needs kind: Service and group: "" together',
  },
  {
    name: "a custom container env naming what modelship sets",
    mutate: (md) => {
      md.spec.model.format = "custom";
      md.spec.runtime = {
        container: { image: "example/server:1", env: [{ name: "MODEL_VERSION", value: "9" }] },
      };
    },
    expect: "MODEL_NAME, MODEL_VERSION and MODEL_PATH are set by modelship",
  },
  {
    name: "a custom container env with a name twice",
    mutate: (md) => {
      md.spec.model.format = "custom";
      md.spec.runtime = {
        container: {
          image: "example/server:1",
          env: [
            { name: "A", value: "1" },
            { name: "A", value: "2" },
          ],
        },
      };
    },
    expect: "a name appears twice",
  },
  {
    name: "custom format without a container",
    mutate: (md) => (md.spec.model.format = "custom"),
    expect: "needs spec.runtime.container",
  },
  {
    name: "analysis step naming an unknown template",
    mutate: (md) =>
      (md.spec.rollout = { strategy: "canary", canary: { steps: [{ analysis: { templates: ["nope"] } }] } }),
    expect: "missing from spec.rollout.analysis",
  },
  {
    name: "scale to zero without a traffic target",
    mutate: (md) => (md.spec.autoscaling = { minReplicas: 0, maxReplicas: 3, cpuUtilization: 50 }),
    expect: "scale to zero",
  },
  {
    name: "scale to zero through the interceptor on two figures",
    mutate: (md) =>
      (md.spec.autoscaling = { minReplicas: 0, maxReplicas: 3, concurrency: 4, requestsPerSecond: 10 }),
    expect: "not both",
  },
  {
    name: "scale to zero through the interceptor on CPU too",
    mutate: (md) =>
      (md.spec.autoscaling = { minReplicas: 0, maxReplicas: 3, concurrency: 4, cpuUtilization: 60 }),
    expect: "remove cpuUtilization",
  },
  {
    name: "scale to zero through the interceptor with a router's canary",
    mutate: (md) => {
      md.spec.autoscaling = { minReplicas: 0, maxReplicas: 3, concurrency: 4 };
      md.spec.traffic = { provider: "gatewayAPI", parentRefs: [{ name: "gw" }] };
      md.spec.rollout = { strategy: "canary", canary: { steps: [{ setWeight: 20 }] } };
    },
    expect: "cannot carry a router's canary weights",
  },
  {
    name: "traffic target on Prometheus without its address",
    mutate: (md) =>
      (md.spec.autoscaling = { minReplicas: 0, maxReplicas: 3, concurrency: 4, activation: "metrics" }),
    expect: "prometheusAddress is required",
  },
  {
    name: "malformed sha256",
    mutate: (md) => (md.spec.model.sha256 = "xyz"),
    expect: "sha256",
  },
  {
    name: "sample rate above 1",
    mutate: (md) => (md.spec.logging = { sampleRate: 2 }),
    expect: "sampleRate",
  },
  {
    name: "custom container scaled on traffic without the logger that counts it",
    mutate: (md) => {
      md.spec.model.format = "custom";
      md.spec.runtime = { container: { image: "example.com/server:1" } };
      md.spec.logging = { enabled: false };
      md.spec.autoscaling = {
        minReplicas: 1,
        maxReplicas: 3,
        concurrency: 4,
        prometheusAddress: "http://prometheus:9090",
      };
    },
    expect: "set spec.logging.enabled true",
  },
  {
    name: "readiness path that is not a path",
    mutate: (md) => {
      md.spec.model.format = "custom";
      md.spec.runtime = {
        container: { image: "example.com/server:1", protocol: "http", readinessPath: "healthz" },
      };
    },
    expect: "readinessPath",
  },
  {
    name: "name too long for child objects",
    mutate: (md) => (md.metadata.name = "a".repeat(41)),
    expect: "at most 40 characters",
  },
  {
    name: "batch with both a file and a SQL input",
    mutate: (md) =>
      (md.spec.batch = {
        schedule: "0 3 * * *",
        inputUri: "pvc://data/rows.jsonl",
        input: { sql: { query: "SELECT 1 AS id", connectionSecret: "db" } },
        outputUri: "pvc://data/out.jsonl",
      }),
    expect: "exactly one input: inputUri",
  },
  {
    name: "batch without an output",
    mutate: (md) => (md.spec.batch = { schedule: "0 3 * * *", inputUri: "pvc://data/rows.jsonl" }),
    expect: "exactly one output: outputUri",
  },
  {
    name: "batch table name that is not a plain identifier",
    mutate: (md) =>
      (md.spec.batch = {
        schedule: "0 3 * * *",
        input: { sql: { query: "SELECT 1 AS id", connectionSecret: "db" } },
        output: { sql: { table: "Scores; DROP TABLE x" } },
      }),
    expect: "spec.batch.output.sql.table must be TABLE or SCHEMA.TABLE",
  },
  {
    name: "batch SQL output from a file input without a connection",
    mutate: (md) =>
      (md.spec.batch = {
        schedule: "0 3 * * *",
        inputUri: "pvc://data/rows.jsonl",
        output: { sql: { table: "scores" } },
      }),
    expect: "spec.batch.output.sql.connectionSecret is required",
  },
  {
    name: "batch parallelism above its shards",
    mutate: (md) =>
      (md.spec.batch = {
        schedule: "0 3 * * *",
        inputUri: "pvc://data/rows.jsonl",
        outputUri: "pvc://data/out.jsonl",
        shards: 2,
        parallelism: 4,
      }),
    expect: "spec.batch.parallelism must be <= spec.batch.shards",
  },
  {
    name: "review threshold 0",
    mutate: (md) => (md.spec.monitoring = { review: { threshold: 0 } }),
    expect: "spec.monitoring.review.threshold must be a probability in (0, 1]",
  },
  {
    name: "review sampleRate 0",
    mutate: (md) => (md.spec.monitoring = { review: { threshold: 0.6, sampleRate: 0 } }),
    expect: "spec.monitoring.review.sampleRate must be > 0",
  },
  {
    name: "review without logging",
    mutate: (md) => {
      md.spec.monitoring = { review: { threshold: 0.6 } };
      md.spec.logging = { enabled: false };
    },
    expect:
      "spec.monitoring.review marks predictions in their inference events: set spec.logging.enabled true",
  },
  {
    name: "additional model named like spec.model",
    mutate: (md) =>
      (md.spec.additionalModels = [{ name: "iris", version: "2", uri: "https://models.example.com/b.onnx" }]),
    expect: "spec.additionalModels[].name must differ from spec.model.name",
  },
  {
    name: "additional models with a custom container",
    mutate: (md) => {
      md.spec.model.format = "custom";
      md.spec.runtime = { container: { image: "example/server:1", port: 8080, protocol: "v2" } };
      md.spec.additionalModels = [{ name: "b", version: "1", uri: "https://models.example.com/b.onnx" }];
    },
    expect: "spec.additionalModels are served by the built-in ONNX server: remove spec.runtime.container",
  },
  {
    name: "additional model uri scheme",
    mutate: (md) => (md.spec.additionalModels = [{ name: "b", version: "1", uri: "ftp://host/b.onnx" }]),
    expect: "spec.additionalModels[].uri must start with https://",
  },
  {
    name: "additional model categories on a numeric feature",
    mutate: (md) =>
      (md.spec.additionalModels = [
        {
          name: "b",
          version: "1",
          uri: "https://models.example.com/b.onnx",
          features: [{ name: "x", type: "numeric", categories: ["a"] }],
        },
      ]),
    expect: "spec.additionalModels[].features: categories are only allowed on features of type categorical",
  },
];
