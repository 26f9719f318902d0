import type { ModelDeployment } from "../api/v1alpha1/index.js";
import { modelSecret } from "./model-secret.js";
import type { K8sObject } from "./object.js";

/**
 * The shared Parquet archive (docs/parquet.md) that drift jobs read instead of one collector: every
 * collector replica writes its closed segments there, so the archive holds all of a model's events
 * however many collectors share the load. Its credentials are copied into a Secret beside each model
 * whose drift job reads it (a Secret lives in one namespace), and reach the job as its environment.
 */
export interface EventsArchive {
  /** s3://BUCKET[/PREFIX], the collectors' --archive. */
  url: string;
  /** AWS_* variables (only the names in archiveCredentialKeys); none: the pod's own identity. */
  credentials?: Record<string, string>;
}

/** The variables an archive credentials Secret may hold; anything else in it is not copied. */
export const archiveCredentialKeys = [
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "AWS_REGION",
  "AWS_DEFAULT_REGION",
  "AWS_ENDPOINT_URL",
  "AWS_ENDPOINT_URL_S3",
] as const;

export function eventsArchiveSecretName(mdName: string): string {
  return `${mdName}-events-archive`;
}

/** The drift container's environment from the copied Secret. */
export function eventsArchiveEnvFrom(md: ModelDeployment): Record<string, unknown>[] {
  return [{ secretRef: { name: eventsArchiveSecretName(md.metadata.name) } }];
}

export function eventsArchiveSecret(md: ModelDeployment, credentials: Record<string, string>): K8sObject {
  return modelSecret(md, eventsArchiveSecretName(md.metadata.name), "events-archive", credentials);
}
