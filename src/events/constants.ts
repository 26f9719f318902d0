/**
 * The InferenceEvent v1 constants without zod: the logger's request path imports only these (and types),
 * so the sidecar does not load zod (about 14 MB of RSS). event.ts re-exports them.
 */
export const EVENT_SPEC_VERSION = "1.0";
export const INFERENCE_EVENT_TYPE = "io.modelship.inference.v1";
export const FEEDBACK_EVENT_TYPE = "io.modelship.feedback.v1";
export const EVENT_CONTENT_TYPE = "application/json";
export const VARIANTS = ["stable", "canary", "shadow", "preview"] as const;
export const FEATURE_TYPES = ["numeric", "categorical", "boolean", "string"] as const;

/** The CloudEvents source for a logger: modelship[/namespace]/model/revision. */
export function eventSource(model: string, revision: string, namespace?: string): string {
  return ["modelship", namespace, model, revision].filter((s) => s !== undefined && s !== "").join("/");
}

/** The response header naming the event a request was recorded as (only when it really was spooled). */
export const EVENT_ID_HEADER = "x-modelship-event-id";
/** Marks a request answered on the fallback upstream, so it never falls back again. */
export const FALLBACK_HEADER = "x-modelship-fallback";
/**
 * Marks a shadow copy (the stable front's mirror): the receiving pod records its event as variant shadow,
 * never falls back, and never copies it again. The value is the original request's event id ("-": none).
 */
export const SHADOW_HEADER = "x-modelship-shadow-of";
