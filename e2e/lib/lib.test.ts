// Unit tests for the e2e helpers themselves (no cluster needed; they run with the e2e suite).
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { clusterEnv, repoRoot } from "./env.js";
import { CommandError, run } from "./exec.js";
import { waitFor } from "./wait.js";

test("clusterEnv defaults to the bundled cluster's kubeconfig", () => {
  const env = clusterEnv({ E2E_BIN_DIR: "/nonexistent" });
  assert.equal(env.kubeconfig, join(repoRoot, ".e2e", "kubeconfig"));
  assert.equal(env.bundled, true);
  assert.equal(env.kubectl, "kubectl", "falls back to PATH when the bin dir lacks kubectl");
});

test("clusterEnv uses KUBECONFIG for an existing cluster and demands it", () => {
  assert.throws(() => clusterEnv({ E2E_USE_EXISTING: "1", E2E_BIN_DIR: "/nonexistent" }), /KUBECONFIG/);
  const env = clusterEnv({ E2E_USE_EXISTING: "1", KUBECONFIG: "/tmp/kc", E2E_BIN_DIR: "/nonexistent" });
  assert.equal(env.kubeconfig, "/tmp/kc");
  assert.equal(env.bundled, false);
});

test("run resolves output and throws CommandError on a non-zero exit", async () => {
  const ok = await run(process.execPath, ["-e", "process.stdout.write('hi')"]);
  assert.equal(ok.stdout, "hi");
  await assert.rejects(run(process.execPath, ["-e", "console.error('boom'); process.exit(3)"]), (e) => {
    assert.ok(e instanceof CommandError);
    assert.equal(e.result.code, 3);
    assert.match(e.message, /boom/);
    return true;
  });
  const tolerated = await run(process.execPath, ["-e", "process.exit(4)"], { allowFailure: true });
  assert.equal(tolerated.code, 4);
});

test("waitFor returns the first truthy probe value and reports the last error on timeout", async () => {
  let calls = 0;
  const v = await waitFor("the third call", () => (++calls === 3 ? "done" : undefined), { intervalMs: 1 });
  assert.equal(v, "done");
  await assert.rejects(
    waitFor(
      "never",
      () => {
        throw new Error("still broken");
      },
      { timeoutMs: 20, intervalMs: 5 },
    ),
    /waiting for never; last error: still broken/,
  );
});
