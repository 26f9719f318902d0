// Shared wiring of `modelship status|promote|abort|retry`: flags, kubeconfig, client, errors.
import { KubeClient, loadKubeConfig } from "../k8s/client.js";
import { contextNamespace, NotFoundError } from "../rollout/control.js";
import { stringFlag, UsageError, type Command, type ParsedArgs } from "./command.js";

export const controlOptions: Command["options"] = {
  namespace: { type: "string", short: "n" },
  kubeconfig: { type: "string" },
};

export const controlFlagsUsage = [
  "  -n, --namespace NS      namespace (default: the kubeconfig context's, else default)",
  "  --kubeconfig FILE       kubeconfig (default: KUBECONFIG, ~/.kube/config, or in-cluster)",
];

export interface Target {
  client: KubeClient;
  namespace: string;
  name: string;
}

/** Resolves NAME, the namespace and a client, then runs fn; reports a missing object as exit 1. */
export async function withTarget(
  cmd: string,
  args: ParsedArgs,
  fn: (t: Target) => Promise<number>,
): Promise<number> {
  const [name, ...extra] = args.positionals;
  if (!name) throw new UsageError(`needs the ModelDeployment's NAME: modelship ${cmd} NAME [-n NS]`);
  if (extra.length)
    throw new UsageError(
      `modelship ${cmd} takes one NAME, got ${args.positionals.length}: ${args.positionals.join(" ")}`,
    );
  let kc;
  try {
    kc = await loadKubeConfig(stringFlag(args, "kubeconfig"));
  } catch (err) {
    process.stderr.write(`modelship ${cmd}: ${(err as Error).message}\n`);
    return 1;
  }
  const namespace = stringFlag(args, "namespace") ?? contextNamespace(kc);
  const client = await KubeClient.create(kc);
  try {
    return await fn({ client, namespace, name });
  } catch (err) {
    if (err instanceof NotFoundError) {
      process.stderr.write(`modelship ${cmd}: ${err.message}\n`);
      return 1;
    }
    process.stderr.write(`modelship ${cmd}: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await client.close();
  }
}
