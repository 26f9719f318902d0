// The one edge where a batch run talks to the API server: status.batch.lastRun of its ModelDeployment
// (through /status, server-side apply under its own field manager) and an Event per finished run.
import { KubeClient, loadKubeConfig, type KubeObject } from "../k8s/client.js";
import type { BatchRunStatus } from "../api/v1alpha1/index.js";
import type { Logger } from "../platform/log.js";
import { BATCH_FIELD_MANAGER, buildEvent, buildStatusPatch, type Target } from "./status-patch.js";

export class BatchStatusWriter {
  private constructor(
    private readonly client: KubeClient,
    private readonly target: Target,
    private readonly log: Logger,
  ) {}

  static async create(target: Target & { kubeconfig?: string }, log: Logger): Promise<BatchStatusWriter> {
    const client = await KubeClient.create(loadKubeConfig(target.kubeconfig));
    return new BatchStatusWriter(client, { namespace: target.namespace, name: target.name }, log);
  }

  private get path(): string {
    return `/apis/modelship.io/v1alpha1/namespaces/${encodeURIComponent(this.target.namespace)}/modeldeployments/${encodeURIComponent(this.target.name)}`;
  }

  private async current(): Promise<KubeObject & { status?: { batch?: { lastRun?: BatchRunStatus } } }> {
    return this.client.get(this.path);
  }

  /** Marks the run as running, unless another shard of it already has (or it already finished). */
  async running(lastRun: BatchRunStatus): Promise<void> {
    const md = await this.current();
    if (md.status?.batch?.lastRun?.runId === lastRun.runId) return;
    await this.client.apply(
      `${this.path}/status`,
      buildStatusPatch(this.target, lastRun),
      BATCH_FIELD_MANAGER,
    );
  }

  /** Writes the finished run into status and records an Event; a missing Event permission is logged only. */
  async finished(lastRun: BatchRunStatus, now: Date): Promise<void> {
    const md = await this.current();
    await this.client.apply(
      `${this.path}/status`,
      buildStatusPatch(this.target, lastRun),
      BATCH_FIELD_MANAGER,
    );
    this.log.info(
      {
        namespace: this.target.namespace,
        modelDeployment: this.target.name,
        runId: lastRun.runId,
        outcome: lastRun.outcome,
      },
      "Updated ModelDeployment batch status",
    );
    const event = buildEvent({ ...this.target, uid: md.metadata?.uid }, lastRun, now);
    try {
      await this.client.apply(
        `/api/v1/namespaces/${encodeURIComponent(this.target.namespace)}/events/${encodeURIComponent(event.metadata.name)}`,
        event,
        BATCH_FIELD_MANAGER,
      );
    } catch (err) {
      this.log.warn(
        { err: (err as Error).message, namespace: this.target.namespace },
        "Failed to create batch Event",
      );
    }
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
