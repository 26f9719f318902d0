// serve's own inference events: built from the tensors serve already decoded and computed, written
// through the same spool and sink as the logger sidecar's (src/events/), in the same InferenceEvent v1.
import { randomUUID } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import {
  buildFeedbackEvent,
  inferenceEventOf,
  parseFeedback,
  shouldRecord,
  type EventConfig,
} from "../events/build.js";
import { parseRequest, parseResponse, type ParsedBody, type Protocol } from "../events/oip.js";
import type { EventRecorder } from "../events/recorder.js";
import { EventLineWriter } from "../events/line.js";
import type { ErrorType, EventTensor, FeatureSchema } from "../events/schema.js";
import { elementCount, OIP_TO_ORT, ORT_TO_OIP, toPlain, type TensorValue } from "./datatypes.js";
import { fromRaw } from "./tensor-bytes.js";
import { rowsOf } from "./protocol.js";
import type { Signature } from "./signature.js";

/** One answered inference request as serve saw it. */
export interface ServedExchange {
  /** The model that answered: serve may hold several, each event names its own. */
  model: { name: string; version: string };
  time: Date;
  path: string;
  protocol: Protocol;
  headers: IncomingHttpHeaders;
  status: number;
  latencyMs: number;
  fallback: boolean;
  /** A shadow copy from the stable front's mirror: recorded as variant shadow whatever this pod serves as. */
  shadow?: boolean;
  error?: { type: ErrorType; message: string };
  request: ParsedBody | undefined;
  /** The client's text of each JSON input's data (events/raw-json.ts), spliced into the event as is. */
  inputTexts?: (string | undefined)[];
  requestBytes: number;
  /** The raw body, kept (capped) in the event when it was not an inference request. */
  rawRequest?: Buffer;
  response: ParsedBody | "malformed" | undefined;
  responseBytes: number;
}

/**
 * The request as the event records it: what the client sent. JSON tensor data is taken from the body
 * serve parsed already; tensors sent in the binary extension are read again from the body's binary part
 * (the decoded copies went to the worker thread), in input order.
 */
export function requestForEvent(
  protocol: Protocol,
  body: unknown,
  binary: Buffer | undefined,
): ParsedBody | undefined {
  const parsed = parseRequest(protocol, body);
  if (parsed === undefined || binary === undefined) return parsed;
  let offset = 0;
  for (const t of parsed.tensors) {
    const size = t.parameters?.binary_data_size;
    if (t.data !== undefined || typeof size !== "number") continue;
    const raw = binary.subarray(offset, offset + size);
    offset += size;
    const type = OIP_TO_ORT[t.datatype as keyof typeof OIP_TO_ORT];
    if (type === undefined) continue;
    try {
      t.data = toPlain(type, fromRaw(t.name, type, raw, elementCount(t.shape)));
    } catch {
      // a body serve refused: the event keeps name, shape and datatype
    }
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
  private readonly configs = new Map<string, { cfg: EventConfig; writer: EventLineWriter }>();

  constructor(
    private readonly recorder: EventRecorder,
    private readonly random: () => number = Math.random,
    /** Feature schemas of single models (--model-features); the others use the recorder's (--features). */
    private readonly modelFeatures: ReadonlyMap<string, FeatureSchema> = new Map(),
  ) {}

  /** The event settings with this model's name, version and features, and their line writer (made once per model). */
  private configFor(model: { name: string; version: string }): { cfg: EventConfig; writer: EventLineWriter } {
    const key = `${model.name}@${model.version}`;
    let entry = this.configs.get(key);
    if (entry === undefined) {
      const features = this.modelFeatures.get(model.name);
      const cfg: EventConfig = {
        ...this.recorder.cfg.event,
        model: model.name,
        modelVersion: model.version,
        ...(features !== undefined ? { features } : {}),
      };
      const writer = features !== undefined ? new EventLineWriter(features) : this.recorder.lineWriter;
      entry = { cfg, writer };
      this.configs.set(key, entry);
    }
    return entry;
  }

  /** Sets the spool gauges; call before rendering /metrics. */
  observe(): void {
    this.recorder.observe();
  }

  /** Whether this answer is recorded at all; failures always are. Call before building anything. */
  wants(status: number): boolean {
    if (shouldRecord(status, this.recorder.cfg.event.sampleRate, this.random)) return true;
    this.recorder.sampledOut();
    return false;
  }

  /** Writes the event before the answer leaves; its id once it was spooled, undefined when dropped. */
  async record(ex: ServedExchange): Promise<string | undefined> {
    const id = randomUUID();
    const model = this.configFor(ex.model);
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
        variant: ex.shadow === true ? "shadow" : this.recorder.variant,
        ...(ex.error !== undefined ? { error: ex.error } : {}),
      },
      {
        request: ex.request,
        requestBytes: ex.requestBytes,
        ...(ex.rawRequest !== undefined ? { rawRequest: ex.rawRequest } : {}),
        response: ex.response,
        responseBytes: ex.responseBytes,
      },
      model.cfg,
    );
    return (await this.recorder.record(model.writer.line(event, ex.protocol, ex.inputTexts)))
      ? id
      : undefined;
  }

  /**
   * POST /v2/feedback: ground truth for an earlier event, {"id": "<x-modelship-event-id>", "groundTruth": ...}.
   * Throws an Error naming the bad field; resolves the feedback event's id, or undefined when the spool
   * had no room.
   */
  async feedback(body: unknown, now = new Date()): Promise<{ id: string; eventId: string } | undefined> {
    const input = parseFeedback(body);
    const event = buildFeedbackEvent(randomUUID(), now, input, this.recorder.cfg.event);
    const ok = await this.recorder.record(JSON.stringify(event));
    return ok ? { id: event.id, eventId: input.eventId } : undefined;
  }
}
