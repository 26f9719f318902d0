import type { z } from "zod";
import { ModelDeployment } from "./modeldeployment.js";

export interface FieldError {
  /** Dotted path of the field, e.g. spec.autoscaling.minReplicas. */
  field: string;
  message: string;
}

export type ParseResult = { ok: true; value: ModelDeployment } | { ok: false; errors: FieldError[] };

function pathOf(issue: z.core.$ZodIssue): string {
  return issue.path
    .map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join("");
}

/** Validates an object as a ModelDeployment and applies defaults; errors name the field. */
export function parseModelDeployment(obj: unknown): ParseResult {
  const r = ModelDeployment.safeParse(obj);
  if (r.success) return { ok: true, value: r.data };
  return {
    ok: false,
    errors: r.error.issues.map((i) => ({ field: pathOf(i) || "(root)", message: i.message })),
  };
}

export function formatErrors(errors: FieldError[]): string {
  return errors.map((e) => `${e.field}: ${e.message}`).join("\n");
}
