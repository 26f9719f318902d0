import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import yaml from "js-yaml";
import { parseModelDeployment } from "../api/v1alpha1/index.js";
import { parseCommandArgs, type Command } from "../cmd/command.js";
import { repoRoot } from "../testing/repo.js";
import { defaultRenderConfig } from "./config.js";
import { canaryPlan } from "./plan-file.js";
import { stablePlan } from "./plan.js";
import { render } from "./render.js";

// The renderer writes command lines that the same image must accept: every modelship container's args are
// parsed by the real command's flag table, so a renamed or missing flag fails here, not in a CrashLoop.
const commandModules: Record<string, () => Promise<{ command: Command }>> = {
  fetch: () => import("../cmd/fetch.js"),
  serve: () => import("../cmd/serve.js"),
  logger: () => import("../cmd/logger.js"),
  drift: () => import("../cmd/drift.js"),
  batch: () => import("../cmd/batch.js"),
};

type Obj = Record<string, any>;

function containersOf(o: Obj): Obj[] {
  const pod = o.spec?.template?.spec ?? o.spec?.jobTemplate?.spec?.template?.spec;
  return pod ? [...(pod.initContainers ?? []), ...(pod.containers ?? [])] : [];
}

// Every optional setting on, so the flags it adds are checked too.
// every optional flag on: a collector token too, so its flags must parse as well
const cfg = {
  ...defaultRenderConfig,
  pushgatewayUrl: "http://pushgateway.monitoring.svc:9091",
  collectorToken: "x",
};

test("every command line the renderer writes is accepted by that command", async () => {
  const seen = new Set<string>();
  for (const f of readdirSync(join(repoRoot, "examples")).filter((x) => x.endsWith(".yaml"))) {
    const r = parseModelDeployment(yaml.load(readFileSync(join(repoRoot, "examples", f), "utf8")));
    assert.ok(r.ok);
    const md = r.value;
    for (const plan of [stablePlan(md), canaryPlan(md, 20, "0")]) {
      for (const o of render(md, plan, cfg).objects as Obj[]) {
        for (const c of containersOf(o)) {
          if (c.image !== cfg.image) continue; // a custom model container
          const [name, ...args] = c.args as string[];
          const load = commandModules[name!];
          assert.ok(
            load,
            `${f}: ${o.kind}/${o.metadata.name} container ${c.name} runs unknown command ${name}`,
          );
          const { command } = await load();
          assert.doesNotThrow(() => parseCommandArgs(command, args), `${f}: ${c.name}: ${args.join(" ")}`);
          seen.add(name!);
        }
      }
    }
  }
  assert.deepEqual([...seen].sort(), ["batch", "drift", "fetch", "logger", "serve"]);
});
