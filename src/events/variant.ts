import type { IncomingHttpHeaders } from "node:http";
import { SHADOW_HEADER } from "./constants.js";
import type { Variant } from "./schema.js";

/**
 * The variant a request was served as. A shadow copy is a shadow request whatever the pod serves as, so a
 * pod that takes both live and mirrored traffic records each correctly. Copies are marked two ways:
 * - modelship's own data-plane mirror (serve or the logger on the stable pods) sends SHADOW_HEADER;
 * - Gateway API RequestMirror implementations (Envoy Gateway, Istio, Contour) keep the original Host and
 *   append "-shadow" to it.
 * Otherwise: the configured variant (--variant, or the variants ConfigMap).
 *
 *   variantOf({ host: "fraud.risk.svc-shadow:8080" }, "stable")      -> "shadow"
 *   variantOf({ "x-modelship-shadow-of": "e-1", host: "x" }, "canary") -> "shadow"
 *   variantOf({ host: "fraud.risk.svc:8080" }, "canary")              -> "canary"
 */
export function variantOf(headers: IncomingHttpHeaders, configured: Variant): Variant {
  if (headers[SHADOW_HEADER] !== undefined) return "shadow";
  const host = headers.host;
  if (host === undefined) return configured;
  const colon = host.lastIndexOf(":");
  const name = colon > host.lastIndexOf("]") ? host.slice(0, colon) : host;
  return name.endsWith("-shadow") ? "shadow" : configured;
}
