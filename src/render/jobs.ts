import { group, plural, type ModelDeployment } from "../api/v1alpha1/index.js";
import { paths, type RenderConfig } from "./config.js";
import {
  collectorTokenFile,
  collectorTokenMount,
  collectorTokenVolume,
  sendsCollectorToken,
} from "./collector-token.js";
import { eventsArchiveEnvFrom } from "./events-archive.js";
import { commonLabels } from "./labels.js";
import { jobIdentity } from "./job-identity.js";
import type { K8sObject } from "./object.js";
import { fetchContainer, pvcClaim } from "./pod.js";

const podSecurity = {
  runAsNonRoot: true,
  runAsUser: 65532,
  runAsGroup: 65532,
  fsGroup: 65532,
  seccompProfile: { type: "RuntimeDefault" },
};
const containerSecurity = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ["ALL"] },
  seccompProfile: { type: "RuntimeDefault" },
};

function cronJob(
  md: ModelDeployment,
  name: string,
  component: string,
  schedule: string,
  timeZone: string | undefined,
  pod: Record<string, unknown>,
  job: Record<string, unknown> = { backoffLimit: 2, activeDeadlineSeconds: 3600 },
): K8sObject {
  const labels = commonLabels(md.metadata.name, component);
  return {
    apiVersion: "batch/v1",
    kind: "CronJob",
    metadata: { name, namespace: md.metadata.namespace, labels },
    spec: {
      schedule,
      ...(timeZone ? { timeZone } : {}),
      concurrencyPolicy: "Forbid",
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 3,
      jobTemplate: {
        spec: {
          ...job,
          template: {
            metadata: { labels },
            spec: { restartPolicy: "Never", securityContext: podSecurity, ...pod },
          },
        },
      },
    },
  };
}

/** The drift job, its ServiceAccount and the least RBAC it needs: patch its own ModelDeployment's status, emit Events. */
export function driftObjects(md: ModelDeployment, cfg: RenderConfig): K8sObject[] {
  const drift = md.spec.monitoring?.drift;
  if (!drift) return [];
  const name = `${md.metadata.name}-drift`;
  const ns = md.metadata.namespace;
  const labels = commonLabels(md.metadata.name, "drift");
  const claim = pvcClaim(drift.baselineUri);
  // the same token authenticates its reads (--events) and its report (--report-url)
  const token = sendsCollectorToken(cfg, cfg.eventsUrl);
  const job = cronJob(md, name, "drift", drift.schedule, drift.timeZone, {
    serviceAccountName: name,
    containers: [
      {
        name: "drift",
        image: cfg.image,
        imagePullPolicy: cfg.imagePullPolicy,
        args: [
          "drift",
          "--baseline",
          claim
            ? drift.baselineUri.replace(`pvc://${claim}`, `${paths.pvcRoot}/${claim}`)
            : drift.baselineUri,
          "--events",
          cfg.eventsArchive?.url ?? cfg.eventsUrl,
          "--model",
          md.spec.model.name,
          "--window",
          drift.window,
          "--psi-threshold",
          String(drift.psiThreshold),
          "--p-value",
          String(drift.pValue),
          "--out",
          "/tmp/drift-report.json",
          // The collector keeps the full report; status.drift.reportRef says where.
          ...(/^https?:\/\//.test(cfg.eventsUrl) ? ["--report-url", cfg.eventsUrl] : []),
          ...(token ? ["--collector-token-file", collectorTokenFile] : []),
          // A CronJob is not scraped: the dashboard's drift row and the drift alert read what it pushes.
          ...(cfg.pushgatewayUrl ? ["--pushgateway", cfg.pushgatewayUrl] : []),
          "--namespace",
          ns ?? "default",
          "--deployment",
          md.metadata.name,
        ],
        ...(cfg.eventsArchive?.credentials ? { envFrom: eventsArchiveEnvFrom(md) } : {}),
        resources: { requests: { cpu: "500m", memory: "256Mi" }, limits: { memory: "1Gi" } },
        securityContext: containerSecurity,
        volumeMounts: [
          { name: "tmp", mountPath: "/tmp" },
          ...(claim
            ? [{ name: `pvc-${claim}`, mountPath: `${paths.pvcRoot}/${claim}`, readOnly: true }]
            : []),
          ...(token ? [collectorTokenMount] : []),
        ],
      },
    ],
    volumes: [
      { name: "tmp", emptyDir: {} },
      ...(token ? [collectorTokenVolume(md.metadata.name)] : []),
      ...(claim
        ? [{ name: `pvc-${claim}`, persistentVolumeClaim: { claimName: claim, readOnly: true } }]
        : []),
    ],
  });
  return [
    ...jobIdentity(name, ns, labels, [
      { apiGroups: [group], resources: [plural], resourceNames: [md.metadata.name], verbs: ["get"] },
      {
        apiGroups: [group],
        resources: [`${plural}/status`],
        resourceNames: [md.metadata.name],
        verbs: ["get", "patch"],
      },
      { apiGroups: ["", "events.k8s.io"], resources: ["events"], verbs: ["create", "patch"] },
    ]),
    job,
  ];
}

/** Where the batch container finds the database Secrets of spec.batch.input.sql and output.sql. */
const sqlSecretDir = (which: "input" | "output") => `/etc/modelship/sql/${which}`;

/** Kubernetes expands $(VAR) in args and turns $$ into $: a user's string reaches the CLI as written. */
const literal = (s: string) => s.replace(/\$/g, "$$$$");

/** Downward API: the Job's name (the run id), the pod's shard, and how often that shard failed before. */
const shardEnv = [
  { name: "RUN_ID", fieldPath: "metadata.labels['batch.kubernetes.io/job-name']" },
  { name: "SHARD_INDEX", fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" },
  {
    name: "SHARD_FAILURES",
    fieldPath: "metadata.annotations['batch.kubernetes.io/job-index-failure-count']",
  },
].map(({ name, fieldPath }) => ({ name, valueFrom: { fieldRef: { fieldPath } } }));

/** Exit codes of `modelship batch` that no retry fixes: bad flags (2), bad SQL, a wrong password, a bad model (3). */
const permanentExitCodes = [2, 3];

/**
 * Scheduled batch prediction: a CronJob of Indexed Jobs, one pod per shard (a failed shard is retried
 * alone), each fetching the model and scoring its share of the input file or query; the last shard
 * to finish puts the output together and writes status.batch.lastRun through the batch
 * ServiceAccount, whose Role allows only that (and Events).
 */
export function batchObjects(md: ModelDeployment, cfg: RenderConfig): K8sObject[] {
  const b = md.spec.batch;
  if (!b) return [];
  const name = `${md.metadata.name}-batch`;
  const ns = md.metadata.namespace;
  const labels = commonLabels(md.metadata.name, "batch");
  const model = md.spec.model;
  const outClaim = b.outputUri !== undefined ? pvcClaim(b.outputUri) : undefined;
  const inClaim = b.inputUri !== undefined ? pvcClaim(b.inputUri) : undefined;
  const modelClaim = pvcClaim(model.uri);
  const claims = [...new Set([outClaim, inClaim, modelClaim].filter((c): c is string => c !== undefined))];
  const sqlIn = b.input?.sql;
  const sqlOut = b.output?.sql;
  const outSecret = sqlOut ? (sqlOut.connectionSecret ?? sqlIn?.connectionSecret) : undefined;
  const secrets = [
    ...(sqlIn ? [{ volume: "sql-input", dir: sqlSecretDir("input"), secret: sqlIn.connectionSecret }] : []),
    ...(outSecret !== undefined && outSecret !== sqlIn?.connectionSecret
      ? [{ volume: "sql-output", dir: sqlSecretDir("output"), secret: outSecret }]
      : []),
  ];
  // the input's files reach the batch container too (s3/gs keys), not only the model's download
  const credentials = b.credentialsSecret ?? model.credentialsSecret;
  const job = cronJob(
    md,
    name,
    "batch",
    b.schedule,
    b.timeZone,
    {
      serviceAccountName: name,
      initContainers: [
        fetchContainer(cfg, model.uri, paths.modelFile, model.sha256, model.credentialsSecret),
      ],
      containers: [
        {
          name: "batch",
          image: md.spec.runtime.image ?? cfg.image,
          imagePullPolicy: cfg.imagePullPolicy,
          args: [
            "batch",
            "--model",
            `${model.name}=${paths.models}/${paths.modelFile}`,
            ...(sqlIn
              ? [
                  "--input-sql",
                  literal(sqlIn.query),
                  "--input-connection",
                  sqlSecretDir("input"),
                  "--id-field",
                  literal(sqlIn.idColumn),
                ]
              : ["--input", literal(b.inputUri!)]),
            ...(sqlOut
              ? [
                  "--output-table",
                  sqlOut.table,
                  ...(secrets.some((s) => s.volume === "sql-output")
                    ? ["--output-connection", sqlSecretDir("output")]
                    : []),
                ]
              : ["--output", literal(b.outputUri!)]),
            "--batch-size",
            String(b.batchSize),
            "--run-id",
            "$(RUN_ID)",
            "--shards",
            String(b.shards),
            "--shard-index",
            "$(SHARD_INDEX)",
            "--shard-retries",
            String(b.retriesPerShard),
            "--shard-failures",
            "$(SHARD_FAILURES)",
            "--pvc-root",
            paths.pvcRoot,
            "--namespace",
            ns ?? "default",
            "--deployment",
            md.metadata.name,
          ],
          env: shardEnv,
          ...(credentials ? { envFrom: [{ secretRef: { name: credentials } }] } : {}),
          // the last log line (the failure, naming the spec field) is the pod's termination message
          terminationMessagePolicy: "FallbackToLogsOnError",
          resources: {
            requests: { cpu: md.spec.resources.cpu, memory: md.spec.resources.memory },
            limits: { memory: md.spec.resources.memory },
          },
          securityContext: containerSecurity,
          volumeMounts: [
            { name: "models", mountPath: paths.models },
            { name: "tmp", mountPath: "/tmp" },
            ...claims.map((c) => ({
              name: `pvc-${c}`,
              mountPath: `${paths.pvcRoot}/${c}`,
              readOnly: c !== outClaim,
            })),
            ...secrets.map((s) => ({ name: s.volume, mountPath: s.dir, readOnly: true })),
          ],
        },
      ],
      volumes: [
        { name: "models", emptyDir: {} },
        { name: "tmp", emptyDir: {} },
        ...claims.map((c) => ({
          name: `pvc-${c}`,
          persistentVolumeClaim: { claimName: c, readOnly: c !== outClaim },
        })),
        // group-readable: the files belong to root and the pod's fsGroup
        ...secrets.map((s) => ({ name: s.volume, secret: { secretName: s.secret, defaultMode: 0o440 } })),
      ],
    },
    {
      completionMode: "Indexed",
      completions: b.shards,
      parallelism: b.parallelism ?? b.shards,
      backoffLimitPerIndex: b.retriesPerShard,
      activeDeadlineSeconds: b.activeDeadlineSeconds,
      podFailurePolicy: {
        rules: [
          {
            action: "FailJob",
            onExitCodes: { containerName: "batch", operator: "In", values: permanentExitCodes },
          },
          // an evicted or preempted pod is not the shard's fault: it does not use up a retry
          { action: "Ignore", onPodConditions: [{ type: "DisruptionTarget" }] },
        ],
      },
    },
  );
  return [...statusWriterRbac(md, name, labels), job];
}

/** The batch job's ServiceAccount and the least RBAC it needs: its own ModelDeployment's status, and Events. */
function statusWriterRbac(md: ModelDeployment, name: string, labels: Record<string, string>): K8sObject[] {
  const ns = md.metadata.namespace;
  return [
    ...jobIdentity(name, ns, labels, [
      { apiGroups: [group], resources: [plural], resourceNames: [md.metadata.name], verbs: ["get"] },
      {
        apiGroups: [group],
        resources: [`${plural}/status`],
        resourceNames: [md.metadata.name],
        verbs: ["get", "patch"],
      },
      { apiGroups: ["", "events.k8s.io"], resources: ["events"], verbs: ["create", "patch"] },
    ]),
  ];
}
