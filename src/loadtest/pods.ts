// Where a side's memory is read: the /metrics of each running pod of its revision, found through the API.
import type { KubeClient } from "../k8s/client.js";

interface PodList {
  items: {
    status?: { phase?: string; podIP?: string };
    spec?: { containers?: { name: string; ports?: { name?: string; containerPort: number }[] }[] };
  }[];
}

/**
 * The model server's /metrics of every running pod matching the selector: the `http` port of the built-in
 * `serve` container. A custom container's pods have none (the logger's own memory is not the model's).
 */
export async function podMetricsUrls(
  client: KubeClient,
  namespace: string,
  selector: string,
): Promise<string[]> {
  const list = await client.get<PodList>(`/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`, {
    labelSelector: selector,
  });
  const urls: string[] = [];
  for (const p of list.items) {
    const ip = p.status?.podIP;
    const serve = p.spec?.containers?.find((c) => c.name === "serve");
    const port = serve?.ports?.find((x) => x.name === "http")?.containerPort;
    if (p.status?.phase === "Running" && ip && port) {
      urls.push(`http://${ip.includes(":") ? `[${ip}]` : ip}:${port}/metrics`);
    }
  }
  return urls;
}
