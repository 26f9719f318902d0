// The baseline profile file (`modelship baseline` writes it, `modelship drift` reads it).
// Versioned: `formatVersion` changes only with an incompatible change; readers reject versions they do
// not know with a message naming the version. docs/drift.md documents every field.
import { z } from "zod";

export const BASELINE_KIND = "DriftBaseline";
export const BASELINE_API_VERSION = "modelship.io/v1alpha1";
export const BASELINE_FORMAT_VERSION = 1;

export const ProfileType = z.enum(["numeric", "categorical", "boolean", "string"]);
export type ProfileType = z.infer<typeof ProfileType>;

const common = {
  /** Rows seen, present or not. */
  count: z.number().int().nonnegative(),
  missing: z.number().int().nonnegative(),
  missingRate: z.number().min(0).max(1),
};

export const NumericProfile = z.object({
  type: z.literal("numeric"),
  ...common,
  min: z.number(),
  max: z.number(),
  mean: z.number(),
  std: z.number(),
  /** Interior bin edges, ascending; bin i holds edges[i-1] <= x < edges[i] (open-ended at both ends). */
  bins: z.object({ edges: z.array(z.number()), counts: z.array(z.number().nonnegative()) }),
  /** A uniform random sample of the present values (all of them when `exact`), sorted ascending. */
  sample: z.object({ values: z.array(z.number()), exact: z.boolean() }),
});
export type NumericProfile = z.infer<typeof NumericProfile>;

export const CategoricalProfile = z.object({
  type: z.enum(["categorical", "boolean", "string"]),
  ...common,
  distinct: z.number().int().nonnegative(),
  /** Counts of the most frequent categories (all of them when distinct <= topK). */
  categories: z.record(z.string(), z.number().nonnegative()),
  /** Present values outside `categories`. */
  otherCount: z.number().nonnegative(),
  topK: z.number().int().positive(),
});
export type CategoricalProfile = z.infer<typeof CategoricalProfile>;

export const FeatureProfile = z.discriminatedUnion("type", [NumericProfile, CategoricalProfile]);
export type FeatureProfile = z.infer<typeof FeatureProfile>;

export const QualityMetrics = z.object({
  task: z.enum(["classification", "regression"]),
  n: z.number().int().nonnegative(),
  accuracy: z.number().optional(),
  precision: z.number().optional(),
  recall: z.number().optional(),
  f1: z.number().optional(),
  rmse: z.number().optional(),
  mae: z.number().optional(),
});
export type QualityMetrics = z.infer<typeof QualityMetrics>;

export const Baseline = z.object({
  apiVersion: z.literal(BASELINE_API_VERSION),
  kind: z.literal(BASELINE_KIND),
  formatVersion: z.literal(BASELINE_FORMAT_VERSION),
  createdAt: z.string(),
  source: z.object({
    file: z.string(),
    format: z.enum(["csv", "jsonl"]),
    rows: z.number().int().nonnegative(),
  }),
  settings: z.object({
    sampleSize: z.number().int().positive(),
    bins: z.number().int().positive(),
    topK: z.number().int().positive(),
  }),
  /** Feature name -> profile, in the data's column order. */
  features: z.record(z.string(), FeatureProfile),
  /** The model output profile, when --prediction-field was given. */
  prediction: z.object({ field: z.string(), profile: FeatureProfile }).optional(),
  /** The label profile, when --label-field was given. */
  label: z.object({ field: z.string(), profile: FeatureProfile }).optional(),
  /** Reference quality, when both label and prediction fields were given. */
  quality: QualityMetrics.optional(),
});
export type Baseline = z.infer<typeof Baseline>;

/** Parses and validates a baseline document; throws an Error whose message says what is wrong. */
export function parseBaseline(text: string, origin: string): Baseline {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`baseline ${origin} is not JSON: ${(err as Error).message}`, { cause: err });
  }
  const v = (raw as { formatVersion?: unknown } | null)?.formatVersion;
  if (typeof v === "number" && v !== BASELINE_FORMAT_VERSION) {
    throw new Error(
      `baseline ${origin} has formatVersion ${v}; this modelship reads version ${BASELINE_FORMAT_VERSION}`,
    );
  }
  const r = Baseline.safeParse(raw);
  if (!r.success) {
    const first = r.error.issues[0];
    const where = first ? first.path.join(".") || "(root)" : "(root)";
    throw new Error(
      `baseline ${origin} is not a valid DriftBaseline: ${where}: ${first?.message ?? "invalid"}`,
    );
  }
  for (const [name, p] of Object.entries(r.data.features)) {
    if (p.type === "numeric" && p.bins.counts.length !== p.bins.edges.length + 1) {
      throw new Error(`baseline ${origin}: features.${name}.bins.counts must have edges.length + 1 entries`);
    }
  }
  return r.data;
}
