import { fileRequest } from "../rollout/control.js";
import { requestNonce } from "../rollout/request.js";
import { requestAnnotations } from "../rollout/types.js";
import { type Command } from "./command.js";
import { controlFlagsUsage, controlOptions, withTarget } from "./rollout-control.js";

export const command: Command = {
  name: "retry",
  summary: "Retry a rolled-back or aborted candidate from step 0",
  usage: [
    "Usage: modelship retry NAME [-n NS]",
    "",
    "Starts the rolled-back candidate again from its first step.",
    `Sets the ${requestAnnotations.retry} annotation to a fresh nonce; the controller acts on it once.`,
    ...controlFlagsUsage,
  ].join("\n"),
  options: { ...controlOptions },
  allowPositionals: true,
  async run(args) {
    return withTarget("retry", args, async ({ client, namespace, name }) => {
      const nonce = requestNonce(new Date());
      await fileRequest(client, namespace, name, "retry", nonce);
      process.stdout.write(
        `Requested retry of ModelDeployment ${namespace}/${name} (${requestAnnotations.retry}=${nonce})\n`,
      );
      return 0;
    });
  },
};
