import { createHash } from "node:crypto";
import { group, plural, type ModelDeployment } from "../api/v1alpha1/index.js";
import { comparesWithStable } from "../loadtest/judge.js";
import { paths, ports, type RenderConfig } from "./config.js";
import { commonLabels, labelKeys, podSelector, selectorString } from "./labels.js";
import { jobIdentity } from "./job-identity.js";
import type { K8sObject } from "./object.js";
import { fetchContainer, pvcClaim } from "./pod.js";
import type { LoadTestPlan } from "./plan.js";

const payloadFile = "payload.ndjson";

const containerSecurity = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ["ALL"] },
  seccompProfile: { type: "RuntimeDefault" },
};

/** The Job of one load-test run: named by the run, so a new run (retry, a new candidate) is a new Job. */
export function loadTestJobName(mdName: string, runId: string): string {
  const hash = createHash("sha256").update(runId).digest("hex").slice(0, 10);
  return `${mdName.slice(0, 42).replace(/-+$/, "")}-loadtest-${hash}`;
}

/** The Service URL of one role (`<md>-canary`, `<md>-preview`, `<md>-stable`), as the Job calls it. */
function serviceUrl(md: ModelDeployment, cfg: RenderConfig, role: string): string {
  const ns = md.metadata.namespace ?? "default";
  return `http://${md.metadata.name}-${role}.${ns}.svc.${cfg.clusterDomain}:${ports.service}`;
}

/** `--flag value` for each threshold the step sets. */
function thresholdArgs(spec: LoadTestPlan["spec"]): string[] {
  const flags: [number | undefined, string][] = [
    [spec.maxP50Ms, "--max-p50-ms"],
    [spec.maxP99Ms, "--max-p99-ms"],
    [spec.maxErrorRate, "--max-error-rate"],
    [spec.maxMemoryMiB, "--max-memory-mib"],
    [spec.maxP99RatioToStable, "--max-p99-ratio-to-stable"],
    [spec.maxMemoryRatioToStable, "--max-memory-ratio-to-stable"],
  ];
  return flags.flatMap(([v, f]) => (v === undefined ? [] : [f, String(v)]));
}

/**
 * The load test the rollout waits on (`loadTest` step): a Job running `modelship loadtest` against the
 * candidate's Service (then stable's, when a threshold compares with it), its ServiceAccount, and the least
 * RBAC it needs: list the pods whose memory it reads, write status.loadTest of its own ModelDeployment.
 * The pod carries no `modelship.io/deployment` label, so no Service, PDB or rollout count ever selects it.
 */
export function loadTestObjects(md: ModelDeployment, plan: LoadTestPlan, cfg: RenderConfig): K8sObject[] {
  const mdName = md.metadata.name;
  const ns = md.metadata.namespace;
  const name = `${mdName}-loadtest`;
  const labels = commonLabels(mdName, "loadtest");
  const { spec } = plan;
  const payload = spec.payload;
  const claim = payload?.uri !== undefined ? pvcClaim(payload.uri) : undefined;
  const podLabels = Object.fromEntries(
    Object.entries(labels).filter(([k]) => k !== labelKeys.deployment && k !== labelKeys.managedBy),
  );
  const args = [
    "loadtest",
    "--url",
    serviceUrl(md, cfg, plan.candidate.role),
    "--model",
    md.spec.model.name,
    "--rate",
    String(spec.rate),
    "--duration",
    spec.duration,
    "--timeout-ms",
    String(spec.requestTimeoutMs),
    ...(payload?.uri !== undefined
      ? ["--payload", `${paths.models}/${payloadFile}`]
      : ["--synthetic-batch-size", String(payload?.synthetic?.batchSize ?? 1)]),
    "--pods",
    selectorString(podSelector(mdName, plan.candidate.id)),
    ...(comparesWithStable(spec)
      ? [
          "--stable-url",
          serviceUrl(md, cfg, "stable"),
          "--stable-pods",
          selectorString(podSelector(mdName, plan.stable)),
        ]
      : []),
    ...thresholdArgs(spec),
    "--namespace",
    ns ?? "default",
    "--deployment",
    mdName,
    "--run-id",
    plan.runId,
    "--revision",
    plan.candidate.id,
    "--step",
    String(plan.step),
  ];
  const job: K8sObject = {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: loadTestJobName(mdName, plan.runId), namespace: ns, labels },
    spec: {
      // a failed run is a result (status.loadTest says why), not something to retry
      backoffLimit: 0,
      // the rollout stops waiting at the same time (the step's deadline)
      activeDeadlineSeconds: plan.deadlineSeconds,
      template: {
        metadata: { labels: podLabels },
        spec: {
          restartPolicy: "Never",
          serviceAccountName: name,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 65532,
            runAsGroup: 65532,
            fsGroup: 65532,
            seccompProfile: { type: "RuntimeDefault" },
          },
          ...(payload?.uri !== undefined
            ? {
                initContainers: [
                  fetchContainer(cfg, payload.uri, payloadFile, undefined, payload.credentialsSecret),
                ],
              }
            : {}),
          containers: [
            {
              name: "loadtest",
              image: cfg.image,
              imagePullPolicy: cfg.imagePullPolicy,
              args,
              terminationMessagePolicy: "FallbackToLogsOnError",
              resources: { requests: { cpu: "500m", memory: "256Mi" }, limits: { memory: "1Gi" } },
              securityContext: containerSecurity,
              volumeMounts: [
                { name: "tmp", mountPath: "/tmp" },
                ...(payload?.uri !== undefined
                  ? [{ name: "models", mountPath: paths.models, readOnly: true }]
                  : []),
              ],
            },
          ],
          volumes: [
            { name: "tmp", emptyDir: {} },
            ...(payload?.uri !== undefined ? [{ name: "models", emptyDir: {} }] : []),
            ...(claim
              ? [{ name: `pvc-${claim}`, persistentVolumeClaim: { claimName: claim, readOnly: true } }]
              : []),
          ],
        },
      },
    },
  };
  return [
    ...jobIdentity(name, ns, labels, [
      {
        apiGroups: [group],
        resources: [`${plural}/status`],
        resourceNames: [mdName],
        verbs: ["get", "patch"],
      },
      { apiGroups: [""], resources: ["pods"], verbs: ["list"] },
    ]),
    job,
  ];
}
