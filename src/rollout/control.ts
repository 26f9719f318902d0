import { group, plural, version } from "../api/v1alpha1/index.js";
import type { KubeClient, KubeObject } from "../k8s/client.js";
import { isNotFound } from "../k8s/errors.js";
import type { Connection } from "../k8s/kubeconfig.js";
import { requestPatch, type RequestKind } from "./request.js";

/** The thin API edge of `modelship status|promote|abort|retry`: one GET or one merge patch. */
export function modelDeploymentPath(namespace: string, name: string): string {
  return `/apis/${group}/${version}/namespaces/${encodeURIComponent(namespace)}/${plural}/${encodeURIComponent(name)}`;
}

export class NotFoundError extends Error {
  override name = "NotFoundError";
}

/** The namespace of the kubeconfig's current context, else "default" (what kubectl does). */
export function contextNamespace(c: Connection): string {
  return c.namespace ?? "default";
}

export async function getModelDeployment(
  client: KubeClient,
  namespace: string,
  name: string,
): Promise<KubeObject> {
  try {
    return await client.get(modelDeploymentPath(namespace, name));
  } catch (err) {
    if (isNotFound(err)) throw new NotFoundError(`ModelDeployment ${namespace}/${name} not found`);
    throw err;
  }
}

/** Files a request: sets its annotation to a fresh nonce; the controller acts on it once. */
export async function fileRequest(
  client: KubeClient,
  namespace: string,
  name: string,
  kind: RequestKind,
  nonce: string,
): Promise<KubeObject> {
  try {
    return await client.mergePatch(
      modelDeploymentPath(namespace, name),
      requestPatch(kind, nonce),
      "modelship-cli",
    );
  } catch (err) {
    if (isNotFound(err)) throw new NotFoundError(`ModelDeployment ${namespace}/${name} not found`);
    throw err;
  }
}
