/**
 * Canary replica maths, after Argo Rollouts. N is the serving replica count: spec.replicas, which the
 * autoscaler writes through the scale subresource, so every count below follows the autoscaler.
 *
 * With a traffic router (gatewayAPI, istio) the router splits traffic exactly, so the canary only needs
 * pods for its share and stable keeps all N until promotion:
 *   canary = ceil(N * w / 100)   (at least 1 when a header route or mirror sends it traffic)
 *   stable = N
 *   N=4,  w=10  -> canary 1, stable 4        N=10, w=25 -> canary 3, stable 10
 *   N=4,  w=0 with a header route -> canary 1, stable 4
 *
 * Without a router (provider service) the Service spreads requests over every ready pod, so the replica
 * ratio is the weight. Both sides round up, as Argo's basic canary does, so the total may surge by one pod:
 *   canary = ceil(N * w / 100),  stable = ceil(N * (100 - ws) / 100)
 * where ws is the weight stable has already handed over (stable shrinks only once the canary pods are
 * available). The weight actually served is canary / (canary + stable):
 *   N=5, w=20 -> canary 1, stable 4 -> 20%    N=4, w=10 -> canary 1, stable 4 -> 20% (not 10%)
 *   N=1, w=20 -> canary 1, stable 1 -> 50%    N=5, w=50 -> canary 3, stable 3 -> 50%
 * so with N pods the weights move in steps of about 100/N percent.
 */
export interface ReplicaCounts {
  canary: number;
  stable: number;
}

export interface CanaryReplicaInput {
  /** Replicas of the serving revision (N). */
  total: number;
  /** Percent of traffic the canary is to be given. */
  canaryWeight: number;
  /** Percent of traffic stable still serves (100 - the weight the canary already has). */
  stableWeight: number;
  /** A router splits traffic (gatewayAPI, istio); otherwise pods split it. */
  trafficRouted: boolean;
  /** A header route or mirror sends the canary requests whatever its weight. */
  canaryPodRequired: boolean;
}

export function canaryReplicaCounts(i: CanaryReplicaInput): ReplicaCounts {
  const n = Math.max(0, i.total);
  let canary = Math.ceil((n * i.canaryWeight) / 100);
  if (i.canaryPodRequired && n > 0) canary = Math.max(canary, 1);
  const stable = i.trafficRouted ? n : Math.ceil((n * i.stableWeight) / 100);
  return { canary, stable };
}

/** The percent of traffic a plain Service sends the canary: its share of the ready pods. */
export function podRatioWeight(available: ReplicaCounts): number {
  const all = available.canary + available.stable;
  return all === 0 ? 0 : Math.round((100 * available.canary) / all);
}
