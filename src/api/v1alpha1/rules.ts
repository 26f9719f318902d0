import type { z } from "zod";

/**
 * A cross-field rule written once with both of its forms side by side: the CEL expression the API
 * server enforces (x-kubernetes-validations) and the TypeScript predicate zod enforces offline
 * (`modelship render`, unit tests). The message names the field and the fix, and is the same in both.
 */
export interface Rule<T> {
  /** CEL over `self` at the level the rule is attached to. */
  cel: string;
  /** The same rule as a predicate; true when the object is valid. */
  check: (self: T) => boolean;
  message: string;
  /** Path of the offending field, relative to `self` (JSONPath-ish for the API server, array for zod). */
  field?: string[];
  /** Rules that read a value from the old object (CEL `oldSelf`) cannot be checked offline. */
}

/** Attaches rules to an object schema: zod checks them, and the CRD generator emits them as CEL. */
export function withRules<S extends z.ZodObject>(schema: S, rules: Rule<z.output<S>>[]): S {
  return schema
    .superRefine((value, ctx) => {
      for (const r of rules) {
        if (!r.check(value as z.output<S>))
          ctx.addIssue({ code: "custom", message: r.message, path: r.field ?? [] });
      }
    })
    .meta({
      "x-kubernetes-validations": rules.map((r) => ({
        rule: r.cel,
        message: r.message,
        ...(r.field ? { fieldPath: "." + r.field.join(".") } : {}),
      })),
    }) as S;
}
