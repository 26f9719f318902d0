import { parseModelDeployment } from "../api/v1alpha1/index.js";
import { getModelDeployment } from "../rollout/control.js";
import { formatStatus } from "../rollout/view.js";
import { stringFlag, UsageError, type Command } from "./command.js";
import { controlFlagsUsage, controlOptions, withTarget } from "./rollout-control.js";

export const command: Command = {
  name: "status",
  summary: "Show a ModelDeployment's rollout: steps, weights, analysis, history",
  usage: [
    "Usage: modelship status NAME [-n NS] [-o text|json]",
    "",
    "Shows the rollout at a glance: phase, traffic, revisions, canary steps (current one marked), analysis",
    "measurements, conditions and history. Also works as `kubectl modelship status NAME`.",
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
      return 0;
    });
  },
};
