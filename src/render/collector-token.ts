import type { ModelDeployment } from "../api/v1alpha1/index.js";
import type { RenderConfig } from "./config.js";
import { modelSecret } from "./model-secret.js";
import type { K8sObject } from "./object.js";

/**
 * The collector's bearer token, for the pods that talk to it: a Secret lives in one namespace, so each
 * ModelDeployment gets its own copy beside its pods. Only the pod template names it, never the token,
 * so a rotated token changes no revision id and restarts no pod (the kubelet refreshes the file and
 * every client reads it per request).
 */
export function collectorTokenSecretName(mdName: string): string {
  return `${mdName}-collector-token`;
}

export const collectorTokenDir = "/var/run/secrets/modelship/collector";
export const collectorTokenFile = `${collectorTokenDir}/token`;
const volumeName = "collector-token";

/** Whether a client of `url` gets the token: only the installation's own collector, never a custom sink. */
export function sendsCollectorToken(cfg: RenderConfig, url: string): boolean {
  return (
    cfg.collectorToken !== undefined &&
    /^https?:\/\//.test(url) &&
    (url === cfg.defaultSink || url === cfg.eventsUrl)
  );
}

export const collectorTokenMount = { name: volumeName, mountPath: collectorTokenDir, readOnly: true };

export function collectorTokenVolume(mdName: string): Record<string, unknown> {
  // 0440: the pods run as group 65532 (fsGroup), which owns the projected files
  return { name: volumeName, secret: { secretName: collectorTokenSecretName(mdName), defaultMode: 0o440 } };
}

export function collectorTokenSecret(md: ModelDeployment, token: string): K8sObject {
  return modelSecret(md, collectorTokenSecretName(md.metadata.name), "collector-token", { token });
}
