// Where the e2e tests find their cluster and tools. e2e/run.sh sets the E2E_* variables;
// the fallbacks let a single test file run by hand against a cluster from `npm run cluster:up`.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** The Kubernetes version the bundled e2e cluster runs (keep in step with e2e/cluster/lib.sh). */
export const bundledKubeVersion = "v1.36.3";

export interface ClusterEnv {
  /** Path of the kubeconfig every kubectl/helm call and client uses. */
  kubeconfig: string;
  /** True for the bundled kwok cluster (fake GPU nodes, fault labels); false for E2E_USE_EXISTING. */
  bundled: boolean;
  kubectl: string;
  helm: string;
}

function readBinDir(env: NodeJS.ProcessEnv): string | undefined {
  if (env.E2E_BIN_DIR) return env.E2E_BIN_DIR;
  const recorded = join(repoRoot, ".e2e", "cluster", "bin-dir");
  return existsSync(recorded) ? readFileSync(recorded, "utf8").trim() : undefined;
}

/** Resolves the cluster settings from the environment (pure apart from reading .e2e/). */
export function clusterEnv(env: NodeJS.ProcessEnv = process.env): ClusterEnv {
  const useExisting = env.E2E_USE_EXISTING === "1";
  let kubeconfig: string;
  if (env.E2E_KUBECONFIG) kubeconfig = env.E2E_KUBECONFIG;
  else if (useExisting) {
    if (!env.KUBECONFIG)
      throw new Error("E2E_USE_EXISTING=1 needs KUBECONFIG pointing at the cluster to test");
    kubeconfig = env.KUBECONFIG;
  } else kubeconfig = join(repoRoot, ".e2e", "kubeconfig");
  const binDir = readBinDir(env);
  // Against another cluster, the user's kubectl/helm on PATH are fine; ours when we built them.
  const tool = (name: string) => (binDir && existsSync(join(binDir, name)) ? join(binDir, name) : name);
  return { kubeconfig, bundled: !useExisting, kubectl: tool("kubectl"), helm: tool("helm") };
}

export interface EdgeEnv {
  /** The machine's own address, where the bundled cluster's edge listens. */
  hostIp: string;
  /** The Gateway modelship-gateway/inference (Traefik), e.g. http://10.1.2.3:18080. */
  gatewayUrl: string;
  /** Prometheus scraping the real node's pods (Kubernetes service discovery). */
  prometheusUrl: string;
}

/** The bundled cluster's Gateway and Prometheus (edge-up.sh), from the ports up.sh recorded; undefined without a real node. */
export function edgeEnv(): EdgeEnv | undefined {
  const file = join(repoRoot, ".e2e", "cluster", "ports");
  if (!existsSync(file)) return undefined;
  const vars = Object.fromEntries(
    readFileSync(file, "utf8")
      .split("\n")
      .map((l) => l.split("="))
      .filter((kv) => kv.length === 2) as [string, string][],
  );
  if (vars.REAL_NODE !== "1" || !vars.HOST_IP || !vars.GATEWAY_PORT || !vars.PROMETHEUS_PORT)
    return undefined;
  return {
    hostIp: vars.HOST_IP,
    gatewayUrl: `http://${vars.HOST_IP}:${vars.GATEWAY_PORT}`,
    prometheusUrl: `http://${vars.HOST_IP}:${vars.PROMETHEUS_PORT}`,
  };
}
