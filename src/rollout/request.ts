import { randomBytes } from "node:crypto";
import { requestAnnotations } from "./types.js";

export type RequestKind = keyof typeof requestAnnotations;

/**
 * A fresh nonce for a promote/abort/retry annotation: time plus randomness, so two requests in the same
 * second still differ. `full:` asks promote to skip every remaining step.
 */
export function requestNonce(now: Date, full = false): string {
  return `${full ? "full:" : ""}${now.toISOString()}-${randomBytes(4).toString("hex")}`;
}

/** The JSON merge patch that files a request on a ModelDeployment. */
export function requestPatch(
  kind: RequestKind,
  nonce: string,
): { metadata: { annotations: Record<string, string> } } {
  return { metadata: { annotations: { [requestAnnotations[kind]]: nonce } } };
}
