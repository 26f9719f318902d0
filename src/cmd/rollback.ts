import { parseModelDeployment } from "../api/v1alpha1/index.js";
import type { KubeClient } from "../k8s/client.js";
import { isConflict, isNotFound } from "../k8s/errors.js";
import { resourcePath, resourceTypes } from "../k8s/resources.js";
import {
  readKeptRevisions,
  revisionsConfigMapName,
  type KeptRevision,
} from "../render/revisions-configmap.js";
import { getModelDeployment, modelDeploymentPath } from "../rollout/control.js";
import { requestNonce } from "../rollout/request.js";
import { requestAnnotations } from "../rollout/types.js";
import { findKeptRevision, formatKeptRevisions } from "../rollout/revision-history.js";
import { rollbackPatch, rolledBackToAnnotation } from "../rollout/rollback-patch.js";
import { boolFlag, stringFlag, UsageError, type Command } from "./command.js";
import { controlFlagsUsage, controlOptions, withTarget } from "./rollout-control.js";

/** The field manager of the spec fields a rollback writes, so `managedFields` says who changed them. */
export const rollbackFieldManager = "modelship-rollback";

/** The kept revisions of a ModelDeployment, newest first; none before its first promotion. */
export async function getKeptRevisions(
  client: KubeClient,
  namespace: string,
  name: string,
): Promise<KeptRevision[]> {
  try {
    const cm = await client.get<{ data?: Record<string, string> }>(
      resourcePath(resourceTypes.ConfigMap, namespace, revisionsConfigMapName(name)),
    );
    return readKeptRevisions(cm.data);
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
}

export const command: Command = {
  name: "rollback",
  summary: "Roll back to an earlier promoted revision",
  usage: [
    "Usage: modelship rollback NAME --to-revision REVISION [-n NS] [--now] [--dry-run]",
    "",
    "Writes the kept revision's spec (model, runtime, resources, scheduling, logging, podMetadata) back into",
    "the ModelDeployment, so the rollout strategy walks to it like any change. `modelship status NAME` lists",
    "the kept revisions (spec.rollout.revisionHistoryLimit of them besides the stable one).",
    `Annotates ${rolledBackToAnnotation}=REVISION. Under GitOps (Argo CD, Flux) make the same change in git,`,
    "or the next sync reverts it. Also works as `kubectl modelship rollback NAME`.",
    ...controlFlagsUsage,
    "  --to-revision REVISION  the revision id to go back to (a unique prefix of 4+ characters will do)",
    "  --now, --skip-steps     also skip every rollout step (promote --full): it takes all traffic at once",
    "  --dry-run               print the merge patch instead of sending it",
  ].join("\n"),
  options: {
    ...controlOptions,
    "to-revision": { type: "string" },
    now: { type: "boolean" },
    "skip-steps": { type: "boolean" },
    "dry-run": { type: "boolean" },
  },
  allowPositionals: true,
  async run(args) {
    const ref = stringFlag(args, "to-revision");
    if (!ref)
      throw new UsageError(
        "--to-revision is required; `modelship status NAME` lists the revisions kept to roll back to",
      );
    const now = boolFlag(args, "now") || boolFlag(args, "skip-steps");
    return withTarget("rollback", args, async ({ client, namespace, name }) => {
      const obj = await getModelDeployment(client, namespace, name);
      const parsed = parseModelDeployment(obj);
      if (!parsed.ok) {
        process.stderr.write(
          `modelship rollback: ${namespace}/${name} does not parse as a ModelDeployment; fix its spec first\n`,
        );
        return 1;
      }
      const md = parsed.value;
      const kept = await getKeptRevisions(client, namespace, name);
      const target = findKeptRevision(kept, ref);
      if (!target) {
        const listed = formatKeptRevisions(kept, md.status?.stableRevision, { name, namespace });
        process.stderr.write(
          kept.length === 0
            ? `modelship rollback: revision "${ref}" is unknown: ${namespace}/${name} keeps no revisions yet (ConfigMap ${revisionsConfigMapName(name)} is written at the first promotion)\n`
            : `modelship rollback: revision "${ref}" is not among the revisions kept for ${namespace}/${name}:\n${listed.join("\n")}\n`,
        );
        return 1;
      }
      const nonce = now ? requestNonce(new Date(), true) : undefined;
      const { patch, changed } = rollbackPatch(md.spec, target, {
        ...(obj.metadata?.resourceVersion ? { resourceVersion: obj.metadata.resourceVersion } : {}),
        ...(nonce ? { promoteNonce: nonce } : {}),
      });
      const what = `revision ${target.id} (model ${target.spec.model.name} ${target.modelVersion}, promoted ${target.promotedAt})`;
      if (changed.length === 0 && !nonce) {
        process.stdout.write(
          `ModelDeployment ${namespace}/${name}: the spec already describes ${what}; nothing to change\n`,
        );
        return 0;
      }
      if (boolFlag(args, "dry-run")) {
        process.stdout.write(JSON.stringify(patch, null, 2) + "\n");
        return 0;
      }
      try {
        await client.mergePatch(modelDeploymentPath(namespace, name), patch, rollbackFieldManager);
      } catch (err) {
        if (!isConflict(err)) throw err;
        process.stderr.write(
          `modelship rollback: ${namespace}/${name} changed while the rollback was prepared; run it again\n`,
        );
        return 1;
      }
      process.stdout.write(
        [
          changed.length > 0
            ? `Rolled back ModelDeployment ${namespace}/${name} to ${what}: wrote ${changed.join(", ")}`
            : `ModelDeployment ${namespace}/${name}: the spec already describes ${what}`,
          ...(nonce
            ? [
                `Requested a full promotion (${requestAnnotations.promote}=${nonce}): it takes all traffic once its pods are available`,
              ]
            : [
                `The ${md.spec.rollout.strategy} strategy now rolls it out; follow it with modelship status ${name} -n ${namespace}`,
              ]),
          "If Argo CD or Flux manages this object, make the same change in git, or the next sync reverts it.",
        ].join("\n") + "\n",
      );
      return 0;
    });
  },
};
