import { fileRequest } from "../rollout/control.js";
import { requestNonce } from "../rollout/request.js";
import { requestAnnotations } from "../rollout/types.js";
import { type Command } from "./command.js";
import { controlFlagsUsage, controlOptions, withTarget } from "./rollout-control.js";

export const command: Command = {
  name: "abort",
  summary: "Abort a rollout: all traffic back to stable, the candidate scaled down",
  usage: [
    "Usage: modelship abort NAME [-n NS]",
    "",
    "Rolls the candidate back at once; it stays down until the spec changes or 'modelship retry'.",
    `Sets the ${requestAnnotations.abort} annotation to a fresh nonce; the controller acts on it once.`,
    ...controlFlagsUsage,
  ].join("\n"),
  options: { ...controlOptions },
  allowPositionals: true,
  async run(args) {
    return withTarget("abort", args, async ({ client, namespace, name }) => {
      const nonce = requestNonce(new Date());
      await fileRequest(client, namespace, name, "abort", nonce);
      process.stdout.write(
        `Requested abort of ModelDeployment ${namespace}/${name} (${requestAnnotations.abort}=${nonce})\n`,
      );
      return 0;
    });
  },
};
