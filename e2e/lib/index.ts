// Helpers for e2e tests: the cluster's kubeconfig and tools, kubectl/helm runners, waits.
export { bundledKubeVersion, clusterEnv, edgeEnv, repoRoot, type ClusterEnv, type EdgeEnv } from "./env.js";
export {
  CommandError,
  helm,
  kubectl,
  kubectlApply,
  kubectlJson,
  run,
  type RunOptions,
  type RunResult,
} from "./exec.js";
export { createNamespace, type TestNamespace } from "./namespace.js";
export { defaultWaitTimeoutMs, waitEstablished, waitFor, type WaitOptions } from "./wait.js";
