import { historyEntry, type Env, type Rev } from "./env.js";
import { decideSteady } from "./steady.js";
import type { RolloutDecision } from "./types.js";

/** How long a canary's old stable revision keeps running after promotion, for in-flight requests and endpoint propagation. */
export const canaryScaleDownDelaySeconds = 30;

/**
 * The candidate becomes stable. The old stable revision keeps its pods for the scale-down delay (no traffic:
 * every Service and route now selects the new revision), then is pruned. Its spec is remembered as the
 * target of a later drift rollback.
 */
export function promoteCandidate(
  env: Env,
  stable: Rev,
  cand: Rev,
  why: string,
  scaleDownDelaySeconds = canaryScaleDownDelaySeconds,
): RolloutDecision {
  const { book } = env;
  env.history.push(
    historyEntry(stable, "Superseded", env.time),
    historyEntry(cand, "Promoted", env.time, why),
  );
  env.events.push({
    type: "Normal",
    reason: "RolloutPromoted",
    message: `revision ${cand.id} (model ${cand.spec.model.version}) promoted over ${stable.id}: ${why}`,
  });
  book.promotedRevision = cand.id;
  book.promotedAt = env.time;
  book.previous = { id: stable.id, spec: stable.spec };
  if (scaleDownDelaySeconds > 0 && stable.obs && stable.obs.replicas > 0) {
    book.scaleDown = {
      id: stable.id,
      spec: stable.spec,
      replicas: stable.obs.replicas,
      until: new Date(env.now.getTime() + scaleDownDelaySeconds * 1000).toISOString(),
    };
  }
  return decideSteady(env, cand);
}
