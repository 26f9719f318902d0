import { group, plural, type ModelDeployment } from "../api/v1alpha1/index.js";
import { paths, type RenderConfig } from "./config.js";
import {
  collectorTokenFile,
  collectorTokenMount,
  collectorTokenVolume,
  sendsCollectorToken,
} from "./collector-token.js";
import { commonLabels } from "./labels.js";
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
          backoffLimit: 2,
          activeDeadlineSeconds: 3600,
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
          cfg.eventsUrl,
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
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name, namespace: ns, labels } },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name, namespace: ns, labels },
      rules: [
        { apiGroups: [group], resources: [plural], resourceNames: [md.metadata.name], verbs: ["get"] },
        {
          apiGroups: [group],
          resources: [`${plural}/status`],
          resourceNames: [md.metadata.name],
          verbs: ["get", "patch"],
        },
        { apiGroups: ["", "events.k8s.io"], resources: ["events"], verbs: ["create", "patch"] },
      ],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name, namespace: ns, labels },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
      subjects: [{ kind: "ServiceAccount", name, namespace: ns }],
    },
    job,
  ];
}

/** Scheduled batch prediction: fetch the model, score the input file, write predictions to the output claim. */
export function batchObjects(md: ModelDeployment, cfg: RenderConfig): K8sObject[] {
  const b = md.spec.batch;
  if (!b) return [];
  const name = `${md.metadata.name}-batch`;
  const model = md.spec.model;
  const outClaim = pvcClaim(b.outputUri);
  const inClaim = pvcClaim(b.inputUri);
  const outPath = outClaim
    ? b.outputUri.replace(`pvc://${outClaim}`, `${paths.pvcRoot}/${outClaim}`)
    : b.outputUri.replace(/^file:\/\//, "");
  const modelClaim = pvcClaim(model.uri);
  const claims = [...new Set([outClaim, inClaim, modelClaim].filter((c): c is string => c !== undefined))];
  const inPath = inClaim ? b.inputUri.replace(`pvc://${inClaim}`, `${paths.pvcRoot}/${inClaim}`) : b.inputUri;
  const job = cronJob(md, name, "batch", b.schedule, b.timeZone, {
    automountServiceAccountToken: false,
    initContainers: [fetchContainer(cfg, model.uri, paths.modelFile, model.sha256, model.credentialsSecret)],
    containers: [
      {
        name: "batch",
        image: md.spec.runtime.image ?? cfg.image,
        imagePullPolicy: cfg.imagePullPolicy,
        args: [
          "batch",
          "--model",
          `${model.name}=${paths.models}/${paths.modelFile}`,
          "--input",
          inPath,
          "--output",
          outPath,
          "--batch-size",
          String(b.batchSize),
        ],
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
    ],
  });
  return [job];
}
