import { z } from "zod";
import { ModelshipEvent } from "./schema.js";

export const EVENT_SCHEMA_ID = "https://modelship.io/schemas/inference-event.v1.json";

/**
 * The published JSON Schema of InferenceEvent v1 and FeedbackEvent v1 (one document, oneOf by type),
 * generated from the zod schema so the two can never drift apart. `io: "input"` describes what a
 * producer may send (optional fields stay optional; unknown fields are tolerated by readers).
 */
export function eventJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(ModelshipEvent, { target: "draft-2020-12", io: "input" }) as Record<
    string,
    unknown
  >;
  const { $schema, ...rest } = schema;
  return {
    $schema,
    $id: EVENT_SCHEMA_ID,
    title: "modelship InferenceEvent v1",
    description:
      "One CloudEvents 1.0 structured-mode JSON object per inference request (type io.modelship.inference.v1) " +
      "or per ground-truth feedback (type io.modelship.feedback.v1). Generated from src/events/schema.ts.",
    ...rest,
  };
}

/** The file content of docs/inference-event.schema.json before formatting. */
export function renderEventJsonSchema(): string {
  return JSON.stringify(eventJsonSchema(), null, 2) + "\n";
}
