import { z } from "zod";
import type { ModelDeployment } from "../api/v1alpha1/index.js";
import { HeaderMatch } from "../api/v1alpha1/index.js";
import { desiredReplicas, revisionSpecOf, type RenderPlan } from "./plan.js";

/**
 * A plan written by hand, for `modelship render --plan FILE`: show what a rollout renders at a given point.
 * Each revision may override the model version and uri it was created from.
 */
export const PlanFile = z.object({
  revisions: z
    .array(
      z.object({
        role: z.enum(["stable", "canary", "preview"]),
        modelVersion: z.string().optional(),
        modelUri: z.string().optional(),
        replicas: z.number().int().min(0).optional(),
      }),
    )
    .min(1),
  weights: z
    .object({ stable: z.number().int().min(0).max(100), canary: z.number().int().min(0).max(100) })
    .optional(),
  headerRoute: z.object({ match: z.array(HeaderMatch).min(1) }).optional(),
  mirror: z.object({ percent: z.number().int().min(1).max(100) }).optional(),
});
export type PlanFile = z.input<typeof PlanFile>;

export function planFromFile(md: ModelDeployment, file: z.output<typeof PlanFile>): RenderPlan {
  const base = revisionSpecOf(md.spec);
  return {
    revisions: file.revisions.map((r) => ({
      role: r.role,
      replicas: r.replicas ?? desiredReplicas(md.spec),
      spec: {
        ...base,
        model: {
          ...base.model,
          version: r.modelVersion ?? base.model.version,
          uri: r.modelUri ?? base.model.uri,
        },
      },
    })),
    weights: file.weights ?? { stable: 100, canary: 0 },
    ...(file.headerRoute ? { headerRoute: { match: file.headerRoute.match } } : {}),
    ...(file.mirror ? { mirror: file.mirror } : {}),
  };
}

/** `--canary-weight N --stable-version V`: the spec's model as canary at N%, version V as stable. */
export function canaryPlan(md: ModelDeployment, weight: number, stableVersion: string): RenderPlan {
  return planFromFile(md, {
    revisions: [{ role: "stable", modelVersion: stableVersion }, { role: "canary" }],
    weights: { stable: 100 - weight, canary: weight },
  });
}
