import { z } from "zod";
import {
  EVENT_CONTENT_TYPE,
  EVENT_SPEC_VERSION,
  FEATURE_TYPES,
  FEEDBACK_EVENT_TYPE,
  INFERENCE_EVENT_TYPE,
  VARIANTS,
} from "./constants.js";

/**
 * InferenceEvent v1: one CloudEvents 1.0 (structured mode) JSON object per request, and a feedback event
 * that ties ground truth to an inference event by id. This file is the single source of truth; the JSON
 * Schema in docs/inference-event.schema.json is generated from it (see src/events/json-schema.ts).
 */

export {
  EVENT_CONTENT_TYPE,
  EVENT_SPEC_VERSION,
  FEEDBACK_EVENT_TYPE,
  INFERENCE_EVENT_TYPE,
  eventSource,
} from "./constants.js";

export const Variant = z.enum(VARIANTS);
export type Variant = z.infer<typeof Variant>;

/** Why a request failed; every failure is an event, never a silent gap. */
export const ErrorType = z.enum([
  /** The upstream answered 4xx: the request was malformed (bad tensor, unknown model...). */
  "bad_request",
  /** The upstream answered 5xx: the model or the server failed. */
  "model_error",
  /** The upstream did not answer within --upstream-timeout-ms. */
  "timeout",
  /** The upstream refused or dropped the connection (model process down). */
  "upstream_unreachable",
  /** The upstream answered 2xx with a body that is not a valid inference response. */
  "malformed_response",
  /** The client went away before the response was complete. */
  "client_aborted",
]);
export type ErrorType = z.infer<typeof ErrorType>;

/**
 * An Open Inference Protocol v2 tensor as recorded. `data` is absent when the tensor was redacted or the
 * payload exceeded the size cap (name, shape and datatype are always kept).
 */
export const EventTensor = z.object({
  name: z.string(),
  shape: z.array(z.number().int().nonnegative()),
  datatype: z.string(),
  parameters: z.record(z.string(), z.unknown()).optional(),
  data: z.array(z.unknown()).optional(),
});
export type EventTensor = z.infer<typeof EventTensor>;

export const FeatureValue = z.union([z.number(), z.string(), z.boolean(), z.null()]);
export type FeatureValue = z.infer<typeof FeatureValue>;
/** One batch row: feature name -> value, in feature-schema order. */
export const FeatureRow = z.record(z.string(), FeatureValue);
export type FeatureRow = z.infer<typeof FeatureRow>;

export const FeatureType = z.enum(FEATURE_TYPES);
export type FeatureType = z.infer<typeof FeatureType>;
/** The ModelDeployment's feature schema, as the logger receives it with --features. */
export const FeatureSpec = z.object({
  name: z.string().min(1),
  type: FeatureType,
  categories: z.array(z.string()).optional(),
});
export type FeatureSpec = z.infer<typeof FeatureSpec>;
export const FeatureSchema = z.array(FeatureSpec);
export type FeatureSchema = z.infer<typeof FeatureSchema>;

export const ModelRef = z.object({ name: z.string().min(1), version: z.string().optional() });
export type ModelRef = z.infer<typeof ModelRef>;

/**
 * Why an event was marked for human review (spec.monitoring.review): its top class probability was below
 * the threshold. The collector queues marked events; a reviewer's label comes back as a feedback event.
 */
export const ReviewMark = z.object({
  reason: z.literal("low_confidence"),
  /** The lowest top probability of the rows below the threshold. */
  topProbability: z.number().min(0).max(1),
  threshold: z.number().min(0).max(1),
  /** The batch rows whose top probability was below the threshold. */
  rows: z.array(z.number().int().nonnegative()),
});
export type ReviewMark = z.infer<typeof ReviewMark>;

export const InferenceData = z.object({
  model: ModelRef,
  revision: z.string(),
  variant: Variant,
  /** The request path, e.g. /v2/models/fraud/infer or /v1/models/fraud:predict. */
  path: z.string(),
  request: z.object({
    /** The OIP request id, when the client sent one. */
    id: z.string().optional(),
    inputs: z.array(EventTensor),
    parameters: z.record(z.string(), z.unknown()).optional(),
    /** The raw body (capped) when it was not a valid inference request, for audits. */
    body: z.string().optional(),
  }),
  /** Named features per batch row, when the deployment declares a feature schema. */
  features: z.array(FeatureRow).optional(),
  /** Absent when there was no valid inference response (errors). */
  response: z
    .object({
      id: z.string().optional(),
      outputs: z.array(EventTensor),
      parameters: z.record(z.string(), z.unknown()).optional(),
    })
    .optional(),
  /** The first output per batch row: one value, or an array per row for multi-value outputs. */
  predictions: z.array(z.unknown()).optional(),
  /** The HTTP status the client received. */
  status: z.number().int(),
  error: z.object({ type: ErrorType, message: z.string() }).optional(),
  latencyMs: z.number().nonnegative(),
  /** x-request-id and the --header-allowlist headers, names lower-cased. */
  headers: z.record(z.string(), z.string()),
  /** The fraction of successful requests recorded; failures are always recorded (sampleRate applies to 2xx). */
  sampleRate: z.number().min(0).max(1),
  /** True when the local model failed and the request was answered by --fallback-upstream. */
  fallback: z.boolean(),
  /** True when a payload exceeded --max-payload-bytes and tensor data were left out. */
  truncated: z.boolean().optional(),
  /** The configured --redact paths that matched and were removed. */
  redacted: z.array(z.string()).optional(),
  /** Present when the prediction was marked for human review (spec.monitoring.review). */
  review: ReviewMark.optional(),
});
export type InferenceData = z.infer<typeof InferenceData>;

export const FeedbackData = z.object({
  /** The id of the inference event this ground truth belongs to. */
  eventId: z.string().min(1),
  groundTruth: z.union([z.number(), z.string(), z.boolean(), z.array(z.unknown())]),
  /** When the ground truth was observed (RFC 3339). */
  time: z.iso.datetime({ offset: true }),
  model: ModelRef.optional(),
});
export type FeedbackData = z.infer<typeof FeedbackData>;

const envelope = {
  specversion: z.literal(EVENT_SPEC_VERSION),
  id: z.string().min(1),
  /** modelship/<namespace>/<model>/<revision>; the namespace segment is left out outside a cluster. */
  source: z.string().min(1),
  /** The model name, so stores can partition without reading data. */
  subject: z.string().min(1),
  time: z.iso.datetime({ offset: true }),
  datacontenttype: z.literal(EVENT_CONTENT_TYPE),
};

export const InferenceEvent = z.object({
  ...envelope,
  type: z.literal(INFERENCE_EVENT_TYPE),
  data: InferenceData,
});
export type InferenceEvent = z.infer<typeof InferenceEvent>;

export const FeedbackEvent = z.object({
  ...envelope,
  type: z.literal(FEEDBACK_EVENT_TYPE),
  data: FeedbackData,
});
export type FeedbackEvent = z.infer<typeof FeedbackEvent>;

/** Any event the logger writes and the collector stores. */
export const ModelshipEvent = z.discriminatedUnion("type", [InferenceEvent, FeedbackEvent]);
export type ModelshipEvent = z.infer<typeof ModelshipEvent>;

export function isInferenceEvent(e: ModelshipEvent): e is InferenceEvent {
  return e.type === INFERENCE_EVENT_TYPE;
}

export function isFeedbackEvent(e: ModelshipEvent): e is FeedbackEvent {
  return e.type === FEEDBACK_EVENT_TYPE;
}

/**
 * Parses one NDJSON line (or object) into an event; throws a ZodError naming the bad field.
 * Readers (collector export, drift job) use this so a schema change fails loudly, not silently.
 */
export function parseEvent(input: string | unknown): ModelshipEvent {
  const value: unknown = typeof input === "string" ? JSON.parse(input) : input;
  return ModelshipEvent.parse(value);
}
