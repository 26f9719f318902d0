// A throw-away namespace per test file, so tests never see each other's objects.
import { randomBytes } from "node:crypto";
import { kubectl } from "./exec.js";
import { clusterEnv, type ClusterEnv } from "./env.js";

export interface TestNamespace {
  name: string;
  /** Deletes the namespace without waiting for its contents to go. */
  delete(): Promise<void>;
}

export async function createNamespace(
  prefix: string,
  env: ClusterEnv = clusterEnv(),
): Promise<TestNamespace> {
  const name = `e2e-${prefix}-${randomBytes(3).toString("hex")}`;
  await kubectl(["create", "namespace", name], {}, env);
  await kubectl(["label", "namespace", name, "modelship.io/e2e=true"], {}, env);
  return {
    name,
    async delete() {
      if (process.env.E2E_KEEP_NAMESPACES === "1") return;
      await kubectl(
        ["delete", "namespace", name, "--wait=false", "--ignore-not-found"],
        { allowFailure: true },
        env,
      );
    },
  };
}
