/**
 * How to reach the API server: a kubeconfig's current context, or the pod's service account.
 *
 * The common cases (in-cluster; a kubeconfig whose user has a token, a token file or a client certificate)
 * are read here with js-yaml. Anything else (exec plugins, auth providers, several merged kubeconfig files)
 * goes to @kubernetes/client-node's KubeConfig, imported only then: that module loads the whole generated
 * API (about 27 MB of heap and 70 MB of RSS), which a controller in a pod never needs.
 */
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import yaml from "js-yaml";

export interface Connection {
  server: string;
  /** The current context's namespace, or the pod's own (in-cluster); undefined when neither says. */
  namespace?: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  skipTLSVerify: boolean;
  /** Request headers (Authorization); a token file is read again when it changes (bound tokens rotate). */
  headers(): Record<string, string>;
}

const serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";

/** An explicit file, else KUBECONFIG, else ~/.kube/config, else the pod's service account. */
export async function loadConnection(file?: string, env = process.env): Promise<Connection> {
  const paths = (file ?? env.KUBECONFIG ?? "").split(":").filter(Boolean);
  if (paths.length === 0) {
    const home = join(env.HOME ?? homedir(), ".kube", "config");
    if (existsSync(home)) paths.push(home);
  }
  if (paths.length === 0) {
    const host = env.KUBERNETES_SERVICE_HOST;
    if (host) return inCluster(host, env.KUBERNETES_SERVICE_PORT ?? "443");
    throw new Error("no Kubernetes cluster configured: pass --kubeconfig or set KUBECONFIG");
  }
  if (paths.length === 1) {
    const simple = fromKubeconfig(paths[0]!);
    if (simple) return simple;
  }
  return fromClientNode(file, paths);
}

/** The pod's service account (`dir` is where Kubernetes mounts it). */
export function inCluster(host: string, port: string, dir = serviceAccountDir): Connection {
  const server = `https://${host.includes(":") ? `[${host}]` : host}:${port}`;
  const namespaceFile = join(dir, "namespace");
  return {
    server,
    ...(existsSync(namespaceFile) ? { namespace: readFileSync(namespaceFile, "utf8").trim() } : {}),
    ca: readFileSync(join(dir, "ca.crt")),
    skipTLSVerify: false,
    headers: bearerFromFile(join(dir, "token")),
  };
}

/** `Authorization: Bearer <token>` from a file, re-read at most every `everyMs` (kubelet rotates it). */
export function bearerFromFile(path: string, everyMs = 30_000): () => Record<string, string> {
  let token = "";
  let readAt = -Infinity;
  return () => {
    if (Date.now() - readAt >= everyMs) {
      token = readFileSync(path, "utf8").trim();
      readAt = Date.now();
    }
    return { Authorization: `Bearer ${token}` };
  };
}

type Named<T> = { name: string } & T;
interface KubeconfigFile {
  "current-context"?: string;
  contexts?: Named<{ context?: { cluster?: string; user?: string; namespace?: string } }>[];
  clusters?: Named<{
    cluster?: {
      server?: string;
      "certificate-authority"?: string;
      "certificate-authority-data"?: string;
      "insecure-skip-tls-verify"?: boolean;
      "proxy-url"?: string;
      "tls-server-name"?: string;
    };
  }>[];
  users?: Named<{ user?: Record<string, unknown> }>[];
}

/** The user fields read here; a user with any other (exec, auth-provider, username...) goes to client-node. */
const simpleUserFields = new Set([
  "token",
  "tokenFile",
  "client-certificate",
  "client-certificate-data",
  "client-key",
  "client-key-data",
]);

/** A single kubeconfig file read here, or undefined when it needs client-node (see the module comment). */
export function fromKubeconfig(path: string): Connection | undefined {
  const doc = yaml.load(readFileSync(path, "utf8")) as KubeconfigFile | undefined;
  const contextName = doc?.["current-context"];
  const context = doc?.contexts?.find((c) => c.name === contextName)?.context;
  const cluster = doc?.clusters?.find((c) => c.name === context?.cluster)?.cluster;
  const user = doc?.users?.find((u) => u.name === context?.user)?.user ?? {};
  if (!context || !cluster?.server) return undefined;
  if (cluster["proxy-url"] || cluster["tls-server-name"]) return undefined;
  if (Object.keys(user).some((k) => !simpleUserFields.has(k))) return undefined;
  const base = dirname(path);
  const file = (p: string) => readFileSync(isAbsolute(p) ? p : join(base, p));
  const pem = (data: unknown, p: unknown): Buffer | undefined =>
    typeof data === "string" ? Buffer.from(data, "base64") : typeof p === "string" ? file(p) : undefined;
  const ca = pem(cluster["certificate-authority-data"], cluster["certificate-authority"]);
  const cert = pem(user["client-certificate-data"], user["client-certificate"]);
  const key = pem(user["client-key-data"], user["client-key"]);
  const token = typeof user.token === "string" ? user.token : undefined;
  const tokenFile = typeof user.tokenFile === "string" ? user.tokenFile : undefined;
  return {
    server: cluster.server.replace(/\/$/, ""),
    ...(context.namespace ? { namespace: context.namespace } : {}),
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    skipTLSVerify: cluster["insecure-skip-tls-verify"] === true,
    headers: token
      ? () => ({ Authorization: `Bearer ${token}` })
      : tokenFile
        ? bearerFromFile(isAbsolute(tokenFile) ? tokenFile : join(base, tokenFile))
        : () => ({}),
  };
}

/** Everything else, through @kubernetes/client-node (exec plugins, auth providers, merged files). */
async function fromClientNode(file: string | undefined, paths: string[]): Promise<Connection> {
  const { KubeConfig } = await import("@kubernetes/client-node");
  const kc = new KubeConfig();
  if (file) kc.loadFromFile(file);
  else if (paths.length) kc.loadFromDefault();
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error("no Kubernetes cluster configured: pass --kubeconfig or set KUBECONFIG");
  const opts: { ca?: Buffer; cert?: Buffer; key?: Buffer; headers?: Record<string, string> } = {};
  await kc.applyToHTTPSOptions(opts as never);
  const namespace = kc.getContextObject(kc.getCurrentContext())?.namespace;
  return {
    server: cluster.server.replace(/\/$/, ""),
    ...(namespace ? { namespace } : {}),
    ...(opts.ca ? { ca: Buffer.from(opts.ca) } : {}),
    ...(opts.cert ? { cert: Buffer.from(opts.cert) } : {}),
    ...(opts.key ? { key: Buffer.from(opts.key) } : {}),
    skipTLSVerify: cluster.skipTLSVerify === true,
    headers: () => ({ ...(opts.headers ?? {}) }),
  };
}
