// serve's own inference events: built from the tensors serve already decoded and computed, written
// through the same spool and sink as the logger sidecar's (src/events/), in the same InferenceEvent v1.
import { randomUUID } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { inferenceEventOf, shouldRecord } from "../events/build.js";
import { parseRequest, parseResponse, type ParsedBody, type Protocol } from "../events/oip.js";
import type { EventRecorder } from "../events/recorder.js";
import type { ErrorType, EventTensor } from "../events/schema.js";
import { ORT_TO_OIP, toPlain, type TensorValue } from "./datatypes.js";
import { rowsOf } from "./protocol.js";
import type { Signature } from "./signature.js";

/** One answered inference request as serve saw it. */
export interface ServedExchange {
  time: Date;
  path: string;
  protocol: Protocol;
  headers: IncomingHttpHeaders;
  status: number;
  latencyMs: number;
  fallback: boolean;
  error?: { type: ErrorType; message: string };
  request: ParsedBody | undefined;
  requestBytes: number;
  /** The raw body, kept (capped) in the event when it was not an inference request. */
  rawRequest?: Buffer;
  response: ParsedBody | "malformed" | undefined;
  responseBytes: number;
}

/**
 * The request as the event records it: what the client sent. JSON tensor data is taken from the body
 * serve parsed already; tensors sent in the binary extension carry no data there and get it from the
 * decoded feeds.
 */
export function requestForEvent(
  protocol: Protocol,
  body: unknown,
  feeds: Record<string, TensorValue> | undefined,
): ParsedBody | undefined {
  const parsed = parseRequest(protocol, body);
  if (parsed === undefined || feeds === undefined) return parsed;
  for (const t of parsed.tensors) {
    const feed = feeds[t.name];
    if (t.data === undefined && feed !== undefined) t.data = toPlain(feed.type, feed.data);
  }
  return parsed;
}

/** The answer as the event records it: the outputs the client got, as OIP v2 tensors or KServe v1 rows. */
export function responseForEvent(
  protocol: Protocol,
  sig: Signature,
  outputs: Record<string, TensorValue>,
  wanted: string[] | undefined,
  id: string | undefined,
): ParsedBody {
  if (protocol === "v1") return parseResponse("v1", { predictions: rowsOf(sig, outputs) })!;
  const tensors: EventTensor[] = [];
  for (const spec of sig.outputs) {
    const t = outputs[spec.name];
    if (t === undefined || (wanted !== undefined && !wanted.includes(spec.name))) continue;
    tensors.push({
      name: spec.name,
      shape: t.dims,
      datatype: ORT_TO_OIP[t.type],
      data: toPlain(t.type, t.data),
    });
  }
  return id === undefined ? { tensors } : { id, tensors };
}

/** The recorder's front for serve: sampling, the event's id, and whether it really was spooled. */
export class ServeEventLog {
  constructor(
    private readonly recorder: EventRecorder,
    private readonly random: () => number = Math.random,
  ) {}

  /** Whether this answer is recorded at all; failures always are. Call before building anything. */
  wants(status: number): boolean {
    if (shouldRecord(status, this.recorder.cfg.event.sampleRate, this.random)) return true;
    this.recorder.sampledOut();
    return false;
  }

  /** Writes the event before the answer leaves; its id when it was spooled, undefined when dropped. */
  record(ex: ServedExchange): string | undefined {
    const id = randomUUID();
    const event = inferenceEventOf(
      {
        id,
        time: ex.time,
        path: ex.path,
        protocol: ex.protocol,
        requestHeaders: ex.headers,
        status: ex.status,
        latencyMs: ex.latencyMs,
        fallback: ex.fallback,
        variant: this.recorder.variant,
        ...(ex.error !== undefined ? { error: ex.error } : {}),
      },
      {
        request: ex.request,
        requestBytes: ex.requestBytes,
        ...(ex.rawRequest !== undefined ? { rawRequest: ex.rawRequest } : {}),
        response: ex.response,
        responseBytes: ex.responseBytes,
      },
      this.recorder.cfg.event,
    );
    return this.recorder.record(this.recorder.lineWriter.line(event, ex.protocol)) ? id : undefined;
  }
}
