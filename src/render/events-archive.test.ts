import assert from "node:assert/strict";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { parseCommandArgs } from "../cmd/command.js";
import { command as driftCommand } from "../cmd/drift.js";
import { readArchiveCredentials } from "../controller/archive-credentials.js";
import { readFileSync } from "node:fs";
import yaml from "js-yaml";
import { parseModelDeployment, type ModelDeployment } from "../api/v1alpha1/index.js";
import { repoRoot } from "../testing/repo.js";
import { defaultRenderConfig, type RenderConfig } from "./config.js";
import { stablePlan } from "./plan.js";
import { render } from "./render.js";

type Obj = Record<string, any>;

function loadExample(file: string): ModelDeployment {
  const r = parseModelDeployment(yaml.load(readFileSync(join(repoRoot, "examples", file), "utf8")));
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.value;
}

const credentials = { AWS_ACCESS_KEY_ID: "AKIAEXAMPLE", AWS_SECRET_ACCESS_KEY: "s3cret/key" };
const withArchive: RenderConfig = {
  ...defaultRenderConfig,
  collectorToken: "collector-token",
  eventsArchive: { url: "s3://ml-events/archive", credentials },
};

function driftContainer(objects: Obj[]): Obj {
  const job = objects.find((o) => o.kind === "CronJob");
  assert.ok(job, "a drift CronJob");
  return job.spec.jobTemplate.spec.template.spec.containers[0];
}

test("Given the collectors' archive, Then the drift job reads it, still stores its report with the collector, and gets the credentials from a Secret beside the model", () => {
  const md = loadExample("canary.yaml"); // drift on
  const objects = render(md, stablePlan(md), withArchive).objects as Obj[];
  const c = driftContainer(objects);
  const flags = parseCommandArgs(driftCommand, (c.args as string[]).slice(1)).values;
  assert.equal(flags.events, "s3://ml-events/archive");
  assert.equal(flags["report-url"], defaultRenderConfig.eventsUrl, "the report still goes to the collector");
  assert.ok(flags["collector-token-file"], "which needs the token");

  const secret = objects.find(
    (o) => o.kind === "Secret" && o.metadata.name === `${md.metadata.name}-events-archive`,
  );
  assert.ok(secret, "a Secret beside the model");
  assert.equal(secret.metadata.namespace, md.metadata.namespace);
  assert.deepEqual(
    Object.fromEntries(
      Object.entries(secret.data).map(([k, v]) => [k, Buffer.from(v as string, "base64").toString()]),
    ),
    credentials,
  );
  assert.deepEqual(c.envFrom, [{ secretRef: { name: secret.metadata.name } }]);
  const templates = JSON.stringify(objects.filter((o) => o.kind !== "Secret"));
  assert.ok(!templates.includes("s3cret"), "the credentials are never in a pod template");
});

test("Given no archive, or an archive without credentials, Then no Secret and no envFrom; a model without drift gets none", () => {
  const md = loadExample("canary.yaml");
  const plain = render(md, stablePlan(md), defaultRenderConfig).objects as Obj[];
  assert.equal(driftContainer(plain).envFrom, undefined);
  assert.ok(!plain.some((o) => o.metadata.name.endsWith("-events-archive")));
  const identity = render(md, stablePlan(md), {
    ...defaultRenderConfig,
    eventsArchive: { url: "s3://ml-events" },
  }).objects as Obj[];
  assert.equal(driftContainer(identity).envFrom, undefined);
  assert.ok(driftContainer(identity).args.includes("s3://ml-events"));
  assert.ok(!identity.some((o) => o.kind === "Secret"));

  const noDrift = loadExample("quickstart-cpu.yaml");
  delete noDrift.spec.monitoring?.drift;
  const objects = render(noDrift, stablePlan(noDrift), withArchive).objects as Obj[];
  assert.ok(!objects.some((o) => o.metadata.name.endsWith("-events-archive")));
});

test("the controller reads the credentials from a mounted Secret's files, only the AWS_* it knows, and names what is missing", async () => {
  const dir = mkdtempSync(join(tmpdir(), "modelship-archive-creds-"));
  try {
    // the kubelet's layout: each key a link into ..data
    mkdirSync(join(dir, "..data"));
    for (const [k, v] of Object.entries({ ...credentials, AWS_REGION: "eu-west-1", other: "x" })) {
      writeFileSync(join(dir, "..data", k), `${v}\n`);
      symlinkSync(join("..data", k), join(dir, k));
    }
    assert.deepEqual(await readArchiveCredentials(dir), { ...credentials, AWS_REGION: "eu-west-1" });
    rmSync(join(dir, "AWS_SECRET_ACCESS_KEY"));
    await assert.rejects(
      readArchiveCredentials(dir),
      /must hold the files AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY .*found AWS_ACCESS_KEY_ID, AWS_REGION, other/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
