import { readFile, writeFile } from "node:fs/promises";
import type { LoadTestStatus } from "../api/v1alpha1/index.js";
import { parseDuration } from "../drift/duration.js";
import { KubeClient, loadKubeConfig } from "../k8s/client.js";
import type { Thresholds } from "../loadtest/judge.js";
import { recordedRequests } from "../loadtest/payload.js";
import { podMetricsUrls } from "../loadtest/pods.js";
import { runLoadTest, type Payload, type Side } from "../loadtest/run.js";
import { writeLoadTestStatus } from "../loadtest/status-writer.js";
import { createLogger } from "../platform/log.js";
import {
  intFlag,
  listFlag,
  numberFlag,
  requiredFlag,
  stringFlag,
  UsageError,
  type Command,
  type ParsedArgs,
} from "./command.js";

const usage = `Usage: modelship loadtest --url URL --model NAME --rate R --duration D [thresholds] [flags]

Sends R requests a second for D to the model behind URL (an open loop: on schedule, whatever the answers
take), then, when a threshold compares with stable, to --stable-url the same way; reads the pods' peak
resident memory from their /metrics meanwhile, and judges p50/p99 latency, error rate and memory. The
rollout's loadTest step runs this as a Job and acts on status.loadTest (docs/rollouts.md#load-test).

Flags:
  --url URL                 the candidate's Service, e.g. http://fraud-canary.payments.svc.cluster.local
  --model NAME              the model: requests go to URL/v2/models/NAME/infer
  --rate R                  requests a second
  --duration D              how long each side is loaded (30s, 2m)
  --timeout-ms N            a request not answered within N ms is an error (default 5000)
  --synthetic-batch-size N  made-up requests from the model's v2 metadata, N rows each (the default, 1)
  --payload FILE            recorded requests instead: NDJSON of v2 request bodies or InferenceEvents
  --metrics URL             a candidate pod's /metrics (repeatable), or:
  --pods SELECTOR           the candidate pods' label selector, looked up in --namespace
  --stable-url URL          stable's Service, loaded when a ratio threshold is set
  --stable-metrics URL      a stable pod's /metrics (repeatable), or:
  --stable-pods SELECTOR
  --max-p50-ms X  --max-p99-ms X  --max-error-rate X  --max-memory-mib X
  --max-p99-ratio-to-stable X  --max-memory-ratio-to-stable X
  --namespace NS            with --deployment: write status.loadTest of this ModelDeployment
  --deployment NAME
  --run-id ID --revision R --step N   what the status says the run was (the rollout waits for its run id)
  --kubeconfig FILE         (default: in-cluster / KUBECONFIG)
  --out FILE                also write the result as JSON

Exit codes: 0 passed, 3 a threshold failed, 1 the test could not run, 2 bad flags.`;

function optionalNumber(args: ParsedArgs, name: string): number | undefined {
  return stringFlag(args, name) === undefined ? undefined : numberFlag(args, name, 0);
}

function thresholdsOf(args: ParsedArgs): Thresholds {
  const t: Thresholds = {};
  const set = (key: keyof Thresholds, flag: string) => {
    const v = optionalNumber(args, flag);
    if (v !== undefined) t[key] = v;
  };
  set("maxP50Ms", "max-p50-ms");
  set("maxP99Ms", "max-p99-ms");
  set("maxErrorRate", "max-error-rate");
  set("maxMemoryMiB", "max-memory-mib");
  set("maxP99RatioToStable", "max-p99-ratio-to-stable");
  set("maxMemoryRatioToStable", "max-memory-ratio-to-stable");
  return t;
}

export const command: Command = {
  name: "loadtest",
  summary: "Load a model's Service and judge latency, errors and memory (the rollout's loadTest step)",
  usage,
  options: {
    url: { type: "string" },
    model: { type: "string" },
    rate: { type: "string" },
    duration: { type: "string" },
    "timeout-ms": { type: "string" },
    "synthetic-batch-size": { type: "string" },
    payload: { type: "string" },
    metrics: { type: "string", multiple: true },
    pods: { type: "string" },
    "stable-url": { type: "string" },
    "stable-metrics": { type: "string", multiple: true },
    "stable-pods": { type: "string" },
    "max-p50-ms": { type: "string" },
    "max-p99-ms": { type: "string" },
    "max-error-rate": { type: "string" },
    "max-memory-mib": { type: "string" },
    "max-p99-ratio-to-stable": { type: "string" },
    "max-memory-ratio-to-stable": { type: "string" },
    namespace: { type: "string" },
    deployment: { type: "string" },
    "run-id": { type: "string" },
    revision: { type: "string" },
    step: { type: "string" },
    kubeconfig: { type: "string" },
    out: { type: "string" },
  },
  async run(args) {
    const url = requiredFlag(args, "url").replace(/\/$/, "");
    const model = requiredFlag(args, "model");
    const rate = numberFlag(args, "rate", NaN);
    if (!(rate > 0)) throw new UsageError(`--rate must be a number of requests a second above 0`);
    let durationMs: number;
    try {
      durationMs = parseDuration(requiredFlag(args, "duration"));
    } catch (err) {
      throw new UsageError(`--duration: ${(err as Error).message}`);
    }
    const timeoutMs = intFlag(args, "timeout-ms", 5000, 1);
    const namespace = stringFlag(args, "namespace");
    const deployment = stringFlag(args, "deployment");
    if ((namespace === undefined) !== (deployment === undefined))
      throw new UsageError("--namespace and --deployment go together");
    const needsApi = [stringFlag(args, "pods"), stringFlag(args, "stable-pods"), deployment].some(
      (x) => x !== undefined,
    );
    if (needsApi && namespace === undefined)
      throw new UsageError("--pods, --stable-pods and --deployment need --namespace");
    const payloadFile = stringFlag(args, "payload");
    const thresholds = thresholdsOf(args);

    const log = createLogger({ name: "loadtest" });
    const client = needsApi
      ? await KubeClient.create(loadKubeConfig(stringFlag(args, "kubeconfig")))
      : undefined;
    const side = (u: string, metrics: string[], selector: string | undefined): Side => ({
      url: u.replace(/\/$/, ""),
      metricsUrls: async () =>
        selector !== undefined && client ? podMetricsUrls(client, namespace!, selector) : metrics,
    });
    const stableUrl = stringFlag(args, "stable-url");
    const base: Omit<LoadTestStatus, "phase"> = {
      runId: stringFlag(args, "run-id") ?? `manual-${new Date().toISOString()}`,
      revision: stringFlag(args, "revision") ?? "",
      step: Number(stringFlag(args, "step") ?? "0"),
      startedAt: new Date().toISOString(),
    };
    const write = async (s: LoadTestStatus) => {
      if (client && namespace !== undefined && deployment !== undefined) {
        await writeLoadTestStatus(client, { namespace, name: deployment }, s);
        log.info(
          { namespace, modelDeployment: deployment, phase: s.phase, verdict: s.verdict },
          "Updated ModelDeployment loadTest status",
        );
      }
    };
    try {
      await write({ ...base, phase: "Running" });
      let payload: Payload;
      try {
        payload =
          payloadFile !== undefined
            ? { recorded: recordedRequests(await readFile(payloadFile, "utf8")) }
            : { synthetic: { batchSize: intFlag(args, "synthetic-batch-size", 1, 1) } };
      } catch (err) {
        throw new Error(`payload ${payloadFile}: ${(err as Error).message}`);
      }
      const result = await runLoadTest(
        {
          model,
          rate,
          durationMs,
          timeoutMs,
          payload,
          thresholds,
          candidate: side(url, listFlag(args, "metrics"), stringFlag(args, "pods")),
          ...(stableUrl
            ? { stable: side(stableUrl, listFlag(args, "stable-metrics"), stringFlag(args, "stable-pods")) }
            : {}),
        },
        log,
      );
      const status: LoadTestStatus = {
        ...base,
        phase: "Completed",
        finishedAt: new Date().toISOString(),
        candidate: result.candidate,
        ...(result.stable ? { stable: result.stable } : {}),
        verdict: result.verdict,
        message: result.message,
      };
      await write(status);
      const out = stringFlag(args, "out");
      if (out) await writeFile(out, JSON.stringify(status, null, 2) + "\n");
      process.stdout.write(`loadTest ${result.verdict}: ${result.message}\n`);
      return result.verdict === "Passed" ? 0 : 3;
    } catch (err) {
      const message = (err as Error).message;
      log.error({ err: message }, "Load test could not run");
      await write({ ...base, phase: "Error", finishedAt: new Date().toISOString(), message }).catch(
        (e: Error) => log.error({ err: e.message }, "Failed to write loadTest status"),
      );
      return 1;
    } finally {
      await client?.close();
    }
  },
};
