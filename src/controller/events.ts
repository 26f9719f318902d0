import type { Logger } from "pino";
import type { KubeClient, KubeObject } from "../k8s/client.js";
import { resourcePath, resourceTypes } from "../k8s/resources.js";

/** Records Kubernetes Events on an object; the same reason+message is not repeated within dedupeMs. */
export class EventRecorder {
  private readonly recent = new Map<string, number>();

  constructor(
    private readonly client: KubeClient,
    private readonly log: Logger,
    private readonly component = "modelship-controller",
    private readonly dedupeMs = 10 * 60_000,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async record(obj: KubeObject, type: "Normal" | "Warning", reason: string, message: string): Promise<void> {
    const ns = obj.metadata?.namespace ?? "default";
    const key = `${ns}/${obj.metadata?.name}/${reason}/${message}`;
    const now = this.now();
    const last = this.recent.get(key);
    if (last !== undefined && now.getTime() - last < this.dedupeMs) return;
    this.recent.set(key, now.getTime());
    if (this.recent.size > 10_000) this.recent.clear();
    const ts = now.toISOString();
    try {
      await this.client.request("POST", resourcePath(resourceTypes.Event, ns), {
        body: {
          apiVersion: "v1",
          kind: "Event",
          metadata: { generateName: `${obj.metadata?.name}.`, namespace: ns },
          involvedObject: {
            apiVersion: obj.apiVersion,
            kind: obj.kind,
            name: obj.metadata?.name,
            namespace: ns,
            uid: obj.metadata?.uid,
            resourceVersion: obj.metadata?.resourceVersion,
          },
          type,
          reason,
          message: message.slice(0, 1024),
          source: { component: this.component },
          reportingComponent: this.component,
          reportingInstance: this.component,
          firstTimestamp: ts,
          lastTimestamp: ts,
          count: 1,
        },
      });
    } catch (err) {
      this.log.warn({ err: (err as Error).message, reason }, "Failed to record Event");
    }
  }
}
