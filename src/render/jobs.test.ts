import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import yaml from "js-yaml";
import { parseModelDeployment } from "../api/v1alpha1/index.js";
import { parseCommandArgs } from "../cmd/command.js";
import { command as batchCommand } from "../cmd/batch.js";
import { command as driftCommand } from "../cmd/drift.js";
import { repoRoot } from "../testing/repo.js";
import { defaultRenderConfig } from "./config.js";
import { batchObjects, driftObjects } from "./jobs.js";

type Obj = Record<string, any>;

test("the drift CronJob pushes its metrics to the installation's Pushgateway, when there is one", () => {
  const r = parseModelDeployment(yaml.load(readFileSync(join(repoRoot, "examples/canary.yaml"), "utf8")));
  assert.ok(r.ok);
  const driftFlags = (cfg: typeof defaultRenderConfig) => {
    const job = driftObjects(r.value, cfg).find((o) => o.kind === "CronJob") as Obj;
    const c = job.spec.jobTemplate.spec.template.spec.containers[0];
    return parseCommandArgs(driftCommand, (c.args as string[]).slice(1)).values;
  };
  const pushgatewayUrl = "http://prometheus-pushgateway.monitoring.svc:9091";
  assert.equal(driftFlags({ ...defaultRenderConfig, pushgatewayUrl }).pushgateway, pushgatewayUrl);
  assert.equal(driftFlags(defaultRenderConfig).pushgateway, undefined);
});

function example(file: string, mutate: (md: Obj) => void = () => {}) {
  const raw = yaml.load(readFileSync(join(repoRoot, "examples", file), "utf8")) as Obj;
  mutate(raw);
  const r = parseModelDeployment(raw);
  assert.ok(r.ok, r.ok ? "" : JSON.stringify(r.errors));
  return r.value;
}

function batchJob(md: ReturnType<typeof example>) {
  const objects = batchObjects(md, defaultRenderConfig);
  const cron = objects.find((o) => o.kind === "CronJob") as Obj;
  const job = cron.spec.jobTemplate.spec;
  const pod = job.template.spec;
  const container = pod.containers.find((c: Obj) => c.name === "batch");
  const flags = parseCommandArgs(batchCommand, (container.args as string[]).slice(1)).values;
  return { objects, job, pod, container, flags };
}

test("a sharded batch is an Indexed Job: one pod per shard, each shard retried alone, bad SQL fails the run", () => {
  const { job, pod, container, flags } = batchJob(example("batch-sql.yaml"));
  assert.equal(job.completionMode, "Indexed");
  assert.equal(job.completions, 4);
  assert.equal(job.parallelism, 2);
  assert.equal(job.backoffLimitPerIndex, 2);
  assert.equal(job.backoffLimit, undefined, "retries are counted per shard, not for the Job");
  assert.deepEqual(job.podFailurePolicy.rules[0], {
    action: "FailJob",
    onExitCodes: { containerName: "batch", operator: "In", values: [2, 3] },
  });
  assert.equal(pod.restartPolicy, "Never");
  // the shard, the run and the attempt come from the pod itself
  assert.deepEqual(
    [flags["shards"], flags["shard-index"], flags["run-id"], flags["shard-failures"], flags["shard-retries"]],
    ["4", "$(SHARD_INDEX)", "$(RUN_ID)", "$(SHARD_FAILURES)", "2"],
  );
  const env = Object.fromEntries(container.env.map((e: Obj) => [e.name, e.valueFrom.fieldRef.fieldPath]));
  assert.equal(env.SHARD_INDEX, "metadata.annotations['batch.kubernetes.io/job-completion-index']");
  assert.equal(env.RUN_ID, "metadata.labels['batch.kubernetes.io/job-name']");
  assert.equal(env.SHARD_FAILURES, "metadata.annotations['batch.kubernetes.io/job-index-failure-count']");
  // the database Secret is a read-only folder, readable by the pod's group
  assert.equal(flags["input-connection"], "/etc/modelship/sql/input");
  assert.equal(flags["output-connection"], undefined, "the output uses the input's Secret");
  assert.deepEqual(
    pod.volumes.find((v: Obj) => v.name === "sql-input"),
    { name: "sql-input", secret: { secretName: "iris-db", defaultMode: 0o440 } },
  );
  assert.equal(flags["output-table"], "analytics.iris_predictions");
});

test("the batch job may write its own ModelDeployment's status and Events, nothing else", () => {
  const { objects, pod } = batchJob(example("batch-sql.yaml"));
  assert.equal(pod.serviceAccountName, "iris-nightly-batch");
  const role = objects.find((o) => o.kind === "Role") as Obj;
  assert.deepEqual(role.rules, [
    {
      apiGroups: ["modelship.io"],
      resources: ["modeldeployments"],
      resourceNames: ["iris-nightly"],
      verbs: ["get"],
    },
    {
      apiGroups: ["modelship.io"],
      resources: ["modeldeployments/status"],
      resourceNames: ["iris-nightly"],
      verbs: ["get", "patch"],
    },
    { apiGroups: ["", "events.k8s.io"], resources: ["events"], verbs: ["create", "patch"] },
  ]);
  const binding = objects.find((o) => o.kind === "RoleBinding") as Obj;
  assert.deepEqual(binding.subjects, [
    { kind: "ServiceAccount", name: "iris-nightly-batch", namespace: "default" },
  ]);
});

test("credentialsSecret reaches the batch container, so private s3:// and gs:// inputs can be read", () => {
  const withModelSecret = example("canary.yaml", (m) => {
    m.spec.model.credentialsSecret = "model-store-keys";
    m.spec.batch.inputUri = "s3://private-bucket/fraud/2026-12-03.jsonl";
  });
  const a = batchJob(withModelSecret);
  assert.deepEqual(a.container.envFrom, [{ secretRef: { name: "model-store-keys" } }]);
  assert.equal(a.flags.input, "s3://private-bucket/fraud/2026-12-03.jsonl");
  const own = batchJob(
    example("canary.yaml", (m) => {
      m.spec.model.credentialsSecret = "model-store-keys";
      m.spec.batch.credentialsSecret = "data-lake-keys";
    }),
  );
  assert.deepEqual(own.container.envFrom, [{ secretRef: { name: "data-lake-keys" } }]);
  // the model download keeps the model's own keys
  assert.deepEqual(own.pod.initContainers[0].envFrom, [{ secretRef: { name: "model-store-keys" } }]);
  assert.equal(batchJob(example("canary.yaml")).container.envFrom, undefined);
});

test("a file batch passes its pvc:// URIs as written; a query's $ survives Kubernetes' $(VAR) expansion", () => {
  const file = batchJob(example("canary.yaml"));
  assert.equal(file.flags.input, "pvc://model-store/fraud/batch/input.jsonl");
  assert.equal(file.flags.output, "pvc://model-store/fraud/batch/output.jsonl");
  const mount = file.container.volumeMounts.find((m: Obj) => m.name === "pvc-model-store");
  assert.equal(mount.readOnly, false, "the output's claim is writable");
  const dollar = batchJob(
    example("batch-sql.yaml", (m) => {
      m.spec.batch.input.sql.query = "SELECT id, $$a$$ AS x, $(HOME) FROM t";
      m.spec.batch.output.sql.connectionSecret = "warehouse";
    }),
  );
  // the kubelet turns $$ into $ and would expand $(HOME): doubled, the CLI gets the text as written
  assert.equal(dollar.flags["input-sql"], "SELECT id, $$$$a$$$$ AS x, $$(HOME) FROM t");
  assert.equal(dollar.flags["output-connection"], "/etc/modelship/sql/output");
  assert.ok(dollar.pod.volumes.some((v: Obj) => v.secret?.secretName === "warehouse"));
});
