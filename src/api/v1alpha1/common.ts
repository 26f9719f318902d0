import { z } from "zod";
import type { Rule } from "./rules.js";

/** A DNS-1123 label: what Kubernetes accepts as a Service or label-safe name. */
export const dnsLabel = (what: string) =>
  z
    .string()
    .min(1)
    .max(63)
    .regex(
      /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/,
      `${what} must be lower-case letters, digits and '-' (a DNS label)`,
    );

/** A duration such as 500ms, 30s, 5m or 1h. */
export const duration = z
  .string()
  .max(16)
  .regex(/^[0-9]+(ms|s|m|h)$/, "a duration must look like 500ms, 30s, 5m or 1h");

/** A Kubernetes resource quantity such as 500m, 2, 1Gi. */
export const quantity = z
  .string()
  .max(32)
  .regex(/^[0-9]+(\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti)?$/, "a quantity must look like 500m, 2, 512Mi or 4Gi");

/**
 * A model or data location. The scheme is checked by a rule (uriRule) rather than a pattern so the API server's
 * message lists the accepted forms instead of printing a regular expression.
 */
export const uri = z.string().min(1).max(2048);

const uriPattern = /^(https?|s3|gs|pvc|file):\/\/.+/;

/** The uri-scheme rule for the field `field` of the object it is attached to. */
export function uriRule<T>(field: string, path: string, get: (self: T) => string | undefined): Rule<T> {
  return {
    cel: `!has(self.${field}) || self.${field}.matches('^(https?|s3|gs|pvc|file)://.+')`,
    check: (self) => {
      const v = get(self);
      return v === undefined || uriPattern.test(v);
    },
    message: `${path} must start with https://, s3://BUCKET/KEY, gs://BUCKET/KEY, pvc://CLAIM/path or file://`,
    field: [field],
  };
}

export const toleration = z.object({
  key: z.string().max(253).optional(),
  operator: z.enum(["Exists", "Equal"]).optional(),
  value: z.string().max(63).optional(),
  effect: z.enum(["NoSchedule", "PreferNoSchedule", "NoExecute"]).optional(),
  tolerationSeconds: z.number().int().optional(),
});

export const envVar = z.object({
  name: z.string().min(1).max(253),
  value: z.string().max(4096).optional(),
});

export const cronSchedule = z
  .string()
  .min(9)
  .max(100)
  .describe('A cron schedule in the CronJob format, e.g. "0 * * * *" for hourly.');
