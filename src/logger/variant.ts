import type { Variant } from "../events/schema.js";

/**
 * The variant a request was served as. Mirrored (shadow) traffic reaches the shadow pods through
 * Gateway API RequestMirror, whose implementations (Envoy Gateway, Istio, Contour) keep the original
 * Host and append "-shadow" to it; such a request is a shadow request whatever --variant says, so a
 * pod that takes both live and mirrored traffic records each correctly. Otherwise: --variant.
 *
 *   variantOf("fraud.risk.svc-shadow:8080", "stable")  -> "shadow"
 *   variantOf("fraud.risk.svc:8080", "canary")         -> "canary"
 */
export function variantOf(host: string | undefined, configured: Variant): Variant {
  if (host === undefined) return configured;
  const colon = host.lastIndexOf(":");
  const name = colon > host.lastIndexOf("]") ? host.slice(0, colon) : host;
  return name.endsWith("-shadow") ? "shadow" : configured;
}
