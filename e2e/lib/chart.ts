// The chart installed as a platform team would (e2e/cluster/install-chart.sh), and what a test reads of
// the release: the collector's address and API token.
import { join } from "node:path";
import { fetch } from "undici";
import { clusterEnv, repoRoot } from "./env.js";
import { kubectlJson, run } from "./exec.js";
import { serviceUrl } from "./inference.js";

type Obj = Record<string, any>;

/** helm upgrade --install of charts/modelship; its controller watches only `watch`. */
export async function installChart(release: string, systemNs: string, watch: string, extra: string[] = []) {
  await run(
    "bash",
    [
      join(repoRoot, "e2e/cluster/install-chart.sh"),
      release,
      systemNs,
      "--set",
      `controller.namespaces[0]=${watch}`,
      ...extra,
    ],
    { timeoutMs: 600_000, env: { ...process.env, KUBECONFIG: clusterEnv().kubeconfig } },
  );
}

export interface Collector {
  url: string;
  /** The collector's API token, from the Secret the chart generated. */
  token: string;
}

export async function releaseCollector(release: string, systemNs: string): Promise<Collector> {
  const secret = await kubectlJson<Obj>(["get", "secret", `${release}-collector-token`, "-n", systemNs]);
  return {
    url: await serviceUrl(`${release}-collector`, systemNs),
    token: Buffer.from(String(secret.data.token), "base64").toString("utf8"),
  };
}

/** Every event of namespace `ns` the collector holds for a model since `since`. */
export async function collectorEventList(
  c: Collector,
  ns: string,
  model: string,
  since: Date,
): Promise<Obj[]> {
  const r = await fetch(`${c.url}/v1/events?model=${model}&since=${since.toISOString()}`, {
    headers: { authorization: `Bearer ${c.token}` },
  });
  if (r.status !== 200) throw new Error(`collector answered ${r.status}: ${await r.text()}`);
  return (await r.text())
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as Obj)
    .filter((e) => String(e.source).startsWith(`modelship/${ns}/`));
}
