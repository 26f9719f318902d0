import { inputDataTexts } from "./raw-json.js";
import type { IncomingHttpHeaders } from "node:http";
import {
  EVENT_CONTENT_TYPE,
  EVENT_SPEC_VERSION,
  FEEDBACK_EVENT_TYPE,
  INFERENCE_EVENT_TYPE,
  eventSource,
} from "./constants.js";
import type {
  ErrorType,
  FeatureSchema,
  FeedbackEvent,
  InferenceData,
  InferenceEvent,
  Variant,
} from "./schema.js";
import type { EventLineWriter } from "./line.js";
import { mapFeatures } from "./features.js";
import { parseRequest, parseResponse, predictionsOf, type ParsedBody, type Protocol } from "./oip.js";
import { redact, type RedactPath } from "./redact.js";
import { reviewMark, type ReviewRule } from "./review.js";

/** What every event of one logger shares: who it is and how it records. */
export interface EventConfig {
  model: string;
  modelVersion?: string;
  revision: string;
  variant: Variant;
  namespace?: string;
  features: FeatureSchema;
  redact: RedactPath[];
  /** Lower-cased header names recorded besides x-request-id. */
  headerAllowlist: string[];
  maxPayloadBytes: number;
  sampleRate: number;
  /** spec.monitoring.review: low-confidence predictions are marked for human review. */
  review?: ReviewRule;
}

/** One finished request/response exchange as the proxy saw it. */
export interface Exchange {
  id: string;
  time: Date;
  path: string;
  protocol: Protocol;
  /** As node:http gives them, or the proxy's flat [name, value, ...] list with lower-cased names. */
  requestHeaders: IncomingHttpHeaders | string[];
  requestBody: Buffer;
  status: number;
  responseBody?: Buffer;
  error?: { type: ErrorType; message: string };
  latencyMs: number;
  fallback: boolean;
  /** The variant this request was served as, when it differs from the logger's (mirrored traffic). */
  variant?: Variant;
}

/** Bodies larger than this are not even parsed for tensor metadata: the proxy must not stall on them. */
const PARSE_CEILING_BYTES = 16 * 1024 * 1024;

/** Sampling applies to successes only: every failure is recorded. */
export function shouldRecord(status: number, sampleRate: number, random: () => number): boolean {
  if (status < 200 || status >= 300) return true;
  if (sampleRate >= 1) return true;
  return random() < sampleRate;
}

export function selectHeaders(
  headers: IncomingHttpHeaders | string[],
  allowlist: string[],
): Record<string, string> {
  const out: Record<string, string> = {};
  if (Array.isArray(headers)) {
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i] as string;
      if (name !== "x-request-id" && !allowlist.includes(name)) continue;
      const v = headers[i + 1] as string;
      out[name] = name in out ? `${out[name]}, ${v}` : v;
    }
    return out;
  }
  for (const name of ["x-request-id", ...allowlist]) {
    const v = headers[name];
    if (v !== undefined) out[name] = Array.isArray(v) ? v.join(", ") : v;
  }
  return out;
}

function parseJson(body: Buffer): unknown {
  if (body.length === 0 || body.length > PARSE_CEILING_BYTES) return undefined;
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    return undefined;
  }
}

function stripData(p: ParsedBody): void {
  for (const t of p.tensors) delete t.data;
  delete p.rows;
}

/**
 * What a recorder understood of one exchange's bodies. The logger parses the bytes it proxied
 * (buildInferenceEvent); serve passes the tensors it already decoded, so nothing is parsed twice.
 */
export interface UnderstoodBodies {
  /** The request as an inference request; undefined when it was not one (rawRequest is kept instead). */
  request: ParsedBody | undefined;
  requestBytes: number;
  /** The request's bytes, recorded (capped) for audits when it was not an inference request. */
  rawRequest?: Buffer;
  /** The 2xx answer as an inference response; "malformed" when a 2xx body was not one; undefined: no answer. */
  response: ParsedBody | "malformed" | undefined;
  responseBytes: number;
}

/** Builds the InferenceEvent for one exchange: parse, map features, cap, redact. Pure but for its input. */
export function buildInferenceEvent(ex: Exchange, cfg: EventConfig): InferenceEvent {
  const ok = ex.responseBody !== undefined && ex.status >= 200 && ex.status < 300;
  const response = ok ? (parseResponse(ex.protocol, parseJson(ex.responseBody!)) ?? "malformed") : undefined;
  return inferenceEventOf(
    ex,
    {
      request: parseRequest(ex.protocol, parseJson(ex.requestBody)),
      requestBytes: ex.requestBody.length,
      rawRequest: ex.requestBody,
      response,
      responseBytes: ex.responseBody?.length ?? 0,
    },
    cfg,
  );
}

/** The InferenceEvent of an exchange whose bodies are understood already: map features, cap, redact. */
export function inferenceEventOf(
  ex: Omit<Exchange, "requestBody" | "responseBody">,
  bodies: UnderstoodBodies,
  cfg: EventConfig,
): InferenceEvent {
  let truncated = false;
  const req = bodies.request;
  const data: InferenceData = {
    model:
      cfg.modelVersion === undefined ? { name: cfg.model } : { name: cfg.model, version: cfg.modelVersion },
    revision: cfg.revision,
    variant: ex.variant ?? cfg.variant,
    path: ex.path,
    request: { inputs: [] },
    status: ex.status,
    latencyMs: Math.round(ex.latencyMs * 1000) / 1000,
    headers: selectHeaders(ex.requestHeaders, cfg.headerAllowlist),
    sampleRate: cfg.sampleRate,
    fallback: ex.fallback,
  };
  if (req !== undefined) {
    if (req.id !== undefined) data.request.id = req.id;
    if (req.parameters !== undefined) data.request.parameters = req.parameters;
    if (bodies.requestBytes > cfg.maxPayloadBytes) {
      stripData(req);
      truncated = true;
    } else {
      const features = mapFeatures(cfg.features, req);
      if (features !== undefined) data.features = features;
    }
    data.request.inputs = req.tensors;
  } else if (bodies.rawRequest !== undefined && bodies.rawRequest.length > 0) {
    // not an inference request we understand: keep the raw body (capped) for audits
    const cap = Math.min(bodies.rawRequest.length, cfg.maxPayloadBytes);
    data.request.body = bodies.rawRequest.subarray(0, cap).toString("utf8");
    if (cap < bodies.rawRequest.length) truncated = true;
  }

  let error = ex.error;
  const res = bodies.response;
  if (res === "malformed") {
    error ??= {
      type: "malformed_response",
      message: "upstream answered with a body that is not an inference response",
    };
  } else if (res !== undefined) {
    // marked before a cap strips the probabilities: a large answer is reviewed like a small one
    const review = cfg.review === undefined ? undefined : reviewMark(res.tensors, cfg.review, ex.id);
    if (review !== undefined) data.review = review;
    if (bodies.responseBytes > cfg.maxPayloadBytes) {
      stripData(res);
      truncated = true;
    } else {
      const predictions = predictionsOf(res);
      if (predictions !== undefined) data.predictions = predictions;
    }
    data.response = { outputs: res.tensors };
    if (res.id !== undefined) data.response.id = res.id;
    if (res.parameters !== undefined) data.response.parameters = res.parameters;
  }
  if (error !== undefined) data.error = error;
  if (truncated) data.truncated = true;
  redact(data, cfg.redact);

  return {
    specversion: EVENT_SPEC_VERSION,
    id: ex.id,
    source: eventSource(cfg.model, cfg.revision, cfg.namespace),
    subject: cfg.model,
    type: INFERENCE_EVENT_TYPE,
    time: ex.time.toISOString(),
    datacontenttype: EVENT_CONTENT_TYPE,
    data,
  };
}

/**
 * The event's NDJSON line: buildInferenceEvent written by an EventLineWriter for cfg.features (see
 * line.ts), with the request's numbers as the client wrote them (raw-json.ts); the same JSON value as
 * JSON.stringify(buildInferenceEvent(ex, cfg)).
 */
export function inferenceEventLine(ex: Exchange, cfg: EventConfig, writer: EventLineWriter): string {
  const event = buildInferenceEvent(ex, cfg);
  const texts =
    ex.protocol === "v2" && event.data.request.inputs.length > 0 ? inputDataTexts(ex.requestBody) : undefined;
  return writer.line(event, ex.protocol, texts);
}

export interface FeedbackInput {
  eventId: string;
  groundTruth: FeedbackEvent["data"]["groundTruth"];
  time?: string;
}

/**
 * Reads a POST /v2/feedback body: {"id" | "eventId": "<inference event id>", "groundTruth": value,
 * "time"?: RFC 3339}. Throws an Error naming the bad field.
 */
export function parseFeedback(body: unknown): FeedbackInput {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new Error('feedback body must be a JSON object {"id": "<event id>", "groundTruth": ...}');
  }
  const b = body as Record<string, unknown>;
  const eventId = b.eventId ?? b.id;
  if (typeof eventId !== "string" || eventId === "") {
    throw new Error('feedback "id" must be the id of the inference event (the x-modelship-event-id header)');
  }
  const gt = b.groundTruth ?? b.ground_truth;
  if (!(typeof gt === "number" || typeof gt === "string" || typeof gt === "boolean" || Array.isArray(gt))) {
    throw new Error('feedback "groundTruth" must be a number, string, boolean or array');
  }
  const out: FeedbackInput = { eventId, groundTruth: gt };
  if (b.time !== undefined) {
    if (typeof b.time !== "string" || Number.isNaN(Date.parse(b.time))) {
      throw new Error('feedback "time" must be an RFC 3339 timestamp');
    }
    out.time = new Date(b.time).toISOString();
  }
  return out;
}

export function buildFeedbackEvent(
  id: string,
  now: Date,
  input: FeedbackInput,
  cfg: EventConfig,
): FeedbackEvent {
  const model =
    cfg.modelVersion === undefined ? { name: cfg.model } : { name: cfg.model, version: cfg.modelVersion };
  return feedbackEventFrom(id, now, input, {
    source: eventSource(cfg.model, cfg.revision, cfg.namespace),
    model,
  });
}

/**
 * The feedback event for ground truth given where no EventConfig is (the collector's review queue): the
 * same event as buildFeedbackEvent, from the inference event's source and model.
 */
export function feedbackEventFrom(
  id: string,
  now: Date,
  input: FeedbackInput,
  origin: { source: string; model: { name: string; version?: string } },
): FeedbackEvent {
  const model = origin.model;
  return {
    specversion: EVENT_SPEC_VERSION,
    id,
    source: origin.source,
    subject: model.name,
    type: FEEDBACK_EVENT_TYPE,
    time: now.toISOString(),
    datacontenttype: EVENT_CONTENT_TYPE,
    data: {
      eventId: input.eventId,
      groundTruth: input.groundTruth,
      time: input.time ?? now.toISOString(),
      model,
    },
  };
}
