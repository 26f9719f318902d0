import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import yaml from "js-yaml";
import { parseModelDeployment } from "../api/v1alpha1/index.js";
import { parseCommandArgs } from "../cmd/command.js";
import { command as driftCommand } from "../cmd/drift.js";
import { repoRoot } from "../testing/repo.js";
import { defaultRenderConfig } from "./config.js";
import { driftObjects } from "./jobs.js";

type Obj = Record<string, any>;

test("the drift CronJob pushes its metrics to the installation's Pushgateway, when there is one", () => {
  const r = parseModelDeployment(yaml.load(readFileSync(join(repoRoot, "examples/canary.yaml"), "utf8")));
  assert.ok(r.ok);
  const driftFlags = (cfg: typeof defaultRenderConfig) => {
    const job = driftObjects(r.value, cfg).find((o) => o.kind === "CronJob") as Obj;
    const c = job.spec.jobTemplate.spec.template.spec.containers[0];
    return parseCommandArgs(driftCommand, (c.args as string[]).slice(1)).values;
  };
  const pushgatewayUrl = "http://prometheus-pushgateway.monitoring.svc:9091";
  assert.equal(driftFlags({ ...defaultRenderConfig, pushgatewayUrl }).pushgateway, pushgatewayUrl);
  assert.equal(driftFlags(defaultRenderConfig).pushgateway, undefined);
});
