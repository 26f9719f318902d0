import { fileRequest } from "../rollout/control.js";
import { requestNonce } from "../rollout/request.js";
import { requestAnnotations } from "../rollout/types.js";
import { boolFlag, type Command } from "./command.js";
import { controlFlagsUsage, controlOptions, withTarget } from "./rollout-control.js";

export const command: Command = {
  name: "promote",
  summary: "Promote a paused rollout (or, with --full, skip all remaining steps)",
  usage: [
    "Usage: modelship promote NAME [-n NS] [--full]",
    "",
    "Ends the current pause or analysis step of a canary, or switches a blue-green preview to live.",
    `Sets the ${requestAnnotations.promote} annotation to a fresh nonce; the controller acts on it once.`,
    ...controlFlagsUsage,
    "  --full                  skip every remaining step and promote now",
  ].join("\n"),
  options: { ...controlOptions, full: { type: "boolean" } },
  allowPositionals: true,
  async run(args) {
    return withTarget("promote", args, async ({ client, namespace, name }) => {
      const nonce = requestNonce(new Date(), boolFlag(args, "full"));
      await fileRequest(client, namespace, name, "promote", nonce);
      process.stdout.write(
        `Requested promotion of ModelDeployment ${namespace}/${name} (${requestAnnotations.promote}=${nonce})\n`,
      );
      return 0;
    });
  },
};
