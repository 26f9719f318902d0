import { parseModelDeployment } from "../api/v1alpha1/index.js";
import { getModelDeployment } from "../rollout/control.js";
import { formatKeptRevisions } from "../rollout/revision-history.js";
import { formatStatus } from "../rollout/view.js";
import { stringFlag, UsageError, type Command } from "./command.js";
import { getKeptRevisions } from "./rollback.js";
import { controlFlagsUsage, controlOptions, withTarget } from "./rollout-control.js";

export const command: Command = {
  name: "status",
  summary: "Show a ModelDeployment's rollout: steps, weights, analysis, history",
  usage: [
    "Usage: modelship status NAME [-n NS] [-o text|json]",
    "",
    "Shows the rollout at a glance: phase, traffic, revisions, canary steps (current one marked), analysis",
    "measurements, conditions, history and the revisions kept for `modelship rollback`. Also works as",
    "`kubectl modelship status NAME`.",
    ...controlFlagsUsage,
    "  -o, --output FORMAT     text (default) or json (the status object)",
  ].join("\n"),
  options: { ...controlOptions, output: { type: "string", short: "o" } },
  allowPositionals: true,
  async run(args) {
    const output = stringFlag(args, "output") ?? "text";
    if (output !== "text" && output !== "json")
      throw new UsageError(`--output must be text or json, got "${output}"`);
    return withTarget("status", args, async ({ client, namespace, name }) => {
      const obj = await getModelDeployment(client, namespace, name);
      if (output === "json") {
        process.stdout.write(JSON.stringify(obj.status ?? {}, null, 2) + "\n");
        return 0;
      }
      const parsed = parseModelDeployment(obj);
      if (!parsed.ok) {
        process.stderr.write(
          `modelship status: ${namespace}/${name} does not parse as a ModelDeployment; use -o json\n`,
        );
        return 1;
      }
      process.stdout.write(formatStatus(parsed.value));
      // Reading the ConfigMap takes its own permission: without it, status still shows the rest.
      const kept = await getKeptRevisions(client, namespace, name).catch((err: Error) => {
        process.stdout.write(`\nKept revisions: not readable (${err.message})\n`);
        return [];
      });
      if (kept.length > 0) {
        const limit = parsed.value.spec.rollout.revisionHistoryLimit;
        process.stdout.write(
          [
            "",
            `Kept revisions (the stable one and up to ${limit} earlier, spec.rollout.revisionHistoryLimit):`,
            ...formatKeptRevisions(kept, parsed.value.status?.stableRevision, { name, namespace }),
          ].join("\n") + "\n",
        );
      }
      return 0;
    });
  },
};
