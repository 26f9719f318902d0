// Rollback to an earlier revision on the real control plane: a canary model rolls v1 -> v2 -> v3, the
// controller keeps the promoted revisions in <name>-revisions, and `modelship rollback --to-revision` writes
// an old revision's spec back so the strategy walks to it (or, with --now, promotes it at once). Pods are
// simulated (kwok). Run with `npm run test:e2e -- rollback`.
import assert from "node:assert/strict";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startController, type ControllerProcess } from "./controller/harness.js";
import {
  clusterEnv,
  createNamespace,
  kubectl,
  kubectlApply,
  kubectlJson,
  repoRoot,
  run,
  waitFor,
  type TestNamespace,
} from "./lib/index.js";

const slow = { timeout: 400_000 };
type Obj = Record<string, any>;

function fraud(ns: string, version: string): Obj {
  return {
    apiVersion: "modelship.io/v1alpha1",
    kind: "ModelDeployment",
    metadata: { name: "fraud", namespace: ns },
    spec: {
      model: { name: "fraud", version, uri: `https://models.example.com/fraud/${version}/model.onnx` },
      replicas: 2,
      resources: { cpu: "100m", memory: "128Mi" },
      rollout: {
        strategy: "canary",
        progressDeadlineSeconds: 120,
        canary: { steps: [{ setWeight: 50 }, { pause: {} }] },
      },
    },
  };
}

const getMd = (ns: string) => kubectlJson<Obj>(["get", "md", "fraud", "-n", ns]);
const cond = (md: Obj, type: string) => (md.status?.conditions ?? []).find((c: Obj) => c.type === type);
const cli = (args: string[]) =>
  run(
    process.execPath,
    ["--import", "tsx", join(repoRoot, "bin/dev.ts"), ...args, "--kubeconfig", clusterEnv().kubeconfig],
    { timeoutMs: 60_000, allowFailure: true },
  );
async function kept(ns: string): Promise<Record<string, Obj>> {
  const cm = await kubectlJson<Obj>(["get", "configmap", "fraud-revisions", "-n", ns]);
  return Object.fromEntries(Object.entries(cm.data ?? {}).map(([k, v]) => [k, JSON.parse(v as string)]));
}

describe("rollback to an earlier revision", () => {
  let ns: TestNamespace;
  let ctl: ControllerProcess;
  let plugins: string;
  const ids: Record<string, string> = {};
  before(async () => {
    await kubectl(["apply", "--server-side", "--force-conflicts", "-f", join(repoRoot, "crds")]);
    ns = await createNamespace("rollback");
    ctl = await startController(["--leader-elect=false", "--namespaces", ns.name]);
    // kubectl finds `kubectl modelship` as an executable kubectl-modelship on PATH (npm installs bin/modelship.js
    // under that name); this one runs the sources.
    plugins = await mkdtemp(join(tmpdir(), "modelship-plugin-"));
    await writeFile(
      join(plugins, "kubectl-modelship"),
      `#!/bin/sh\ncd '${repoRoot}' && exec '${process.execPath}' --import tsx bin/dev.ts "$@"\n`,
    );
    await chmod(join(plugins, "kubectl-modelship"), 0o755);
  });
  after(async () => {
    const code = await ctl?.stop();
    if (code !== 0) console.error(ctl.logs().slice(-5000));
    await ns?.delete();
    if (plugins) await rm(plugins, { recursive: true, force: true });
  });

  test(
    "Given a canary model promoted v1 -> v2 -> v3, Then the controller keeps all three revisions and status lists them",
    slow,
    async () => {
      await kubectlApply(JSON.stringify(fraud(ns.name, "v1")));
      const v1 = await waitFor("v1 Ready", async () => {
        const md = await getMd(ns.name);
        return cond(md, "Ready")?.status === "True" ? md : undefined;
      });
      ids.v1 = v1.status.stableRevision;
      assert.equal(v1.spec.rollout.revisionHistoryLimit, 5, "the API server defaults the limit");

      for (const version of ["v2", "v3"]) {
        await kubectlApply(JSON.stringify(fraud(ns.name, version)));
        await waitFor(`${version} paused as a canary`, async () => {
          const md = await getMd(ns.name);
          return md.status?.canaryRevision && cond(md, "Paused")?.status === "True";
        });
        assert.equal((await cli(["promote", "fraud", "-n", ns.name])).code, 0);
        const done = await waitFor(`${version} promoted`, async () => {
          const md = await getMd(ns.name);
          return md.status?.modelVersion === version && !md.status?.canaryRevision ? md : undefined;
        });
        ids[version] = done.status.stableRevision;
      }
      assert.equal(new Set(Object.values(ids)).size, 3);

      const history = await waitFor("three revisions kept", async () => {
        const h = await kept(ns.name);
        return Object.keys(h).length === 3 ? h : undefined;
      });
      for (const version of ["v1", "v2", "v3"]) {
        const entry = history[ids[version]!]!;
        assert.equal(entry.modelVersion, version);
        assert.equal(entry.spec.model.uri, `https://models.example.com/fraud/${version}/model.onnx`);
      }
      assert.equal(
        (await kubectl(["get", "deployments", "-n", ns.name, "-o", "name"])).stdout.includes(ids.v1!),
        false,
        "v1's Deployment was pruned: only its spec is kept",
      );

      const status = await cli(["status", "fraud", "-n", ns.name]);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, new RegExp(`${ids.v3} +v3 +\\S+ +stable`));
      assert.match(status.stdout, new RegExp(`${ids.v2} +v2 +\\S+ +rollback target`));
      assert.match(status.stdout, new RegExp(`${ids.v1} +v1 +\\S+ +rollback target`));
    },
  );

  test(
    "When rollback names a revision that is not kept, Then it fails clearly, lists the kept ones and changes nothing",
    slow,
    async () => {
      const before = await getMd(ns.name);
      const path = `${plugins}${delimiter}${process.env.PATH ?? ""}`;
      const r = await run(
        clusterEnv().kubectl,
        [
          "modelship",
          "rollback",
          "fraud",
          "-n",
          ns.name,
          "--to-revision",
          "0123456789",
          "--kubeconfig",
          clusterEnv().kubeconfig,
        ],
        { allowFailure: true, timeoutMs: 60_000, env: { ...process.env, PATH: path } },
      );
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /revision "0123456789" is not among the revisions kept for/);
      for (const version of ["v1", "v2", "v3"]) assert.ok(r.stderr.includes(ids[version]!), r.stderr);
      const afterwards = await getMd(ns.name);
      assert.equal(afterwards.metadata.generation, before.metadata.generation, "the spec is untouched");
    },
  );

  test(
    "When rolled back to v2, Then the canary strategy walks to it; When then rolled back to v1 with --now, Then v1 is stable again at once",
    slow,
    async () => {
      const toV2 = await cli(["rollback", "fraud", "-n", ns.name, "--to-revision", ids.v2!]);
      assert.equal(toV2.code, 0, toV2.stderr);
      assert.match(toV2.stdout, /wrote spec\.model/);
      assert.match(toV2.stdout, /Argo CD or Flux/);
      const walking = await waitFor("v2 paused as a canary", async () => {
        const md = await getMd(ns.name);
        return md.status?.canaryRevision === ids.v2 && cond(md, "Paused")?.status === "True" ? md : undefined;
      });
      assert.equal(walking.spec.model.version, "v2");
      assert.equal(walking.metadata.annotations["modelship.io/rolled-back-to"], ids.v2);
      assert.equal(walking.status.stableRevision, ids.v3, "v3 serves until the canary is promoted");

      // a unique prefix is enough
      const toV1 = await cli([
        "rollback",
        "fraud",
        "-n",
        ns.name,
        "--to-revision",
        ids.v1!.slice(0, 6),
        "--now",
      ]);
      assert.equal(toV1.code, 0, toV1.stderr);
      const md = await waitFor("v1 stable again", async () => {
        const m = await getMd(ns.name);
        return m.status?.stableRevision === ids.v1 && !m.status?.canaryRevision ? m : undefined;
      });
      assert.equal(md.status.modelVersion, "v1");
      assert.equal(md.spec.model.version, "v1");
      assert.equal(md.metadata.annotations["modelship.io/rolled-back-to"], ids.v1);
      const withFields = await kubectlJson<Obj>([
        "get",
        "md",
        "fraud",
        "-n",
        ns.name,
        "--show-managed-fields",
      ]);
      assert.ok(
        (withFields.metadata.managedFields ?? []).some(
          (f: Obj) => f.manager === "modelship-rollback" && JSON.stringify(f.fieldsV1).includes("f:model"),
        ),
        "the rollback's spec change is recorded under its own field manager",
      );
      const promoted = md.status.history.filter((h: Obj) => h.outcome === "Promoted");
      assert.equal(promoted.at(-1)?.revision, ids.v1, "v1 is the last revision promoted");
      assert.ok(
        md.status.history.some((h: Obj) => h.revision === ids.v2 && h.outcome === "Superseded"),
        "the v2 canary made way for v1",
      );
      await waitFor("the stable Service selects v1", async () => {
        const svc = await kubectlJson<Obj>(["get", "service", "fraud-stable", "-n", ns.name]);
        return svc.spec.selector["modelship.io/revision"] === ids.v1;
      });
      const history = await waitFor("v1 first in the kept revisions", async () => {
        const h = await kept(ns.name);
        const newest = Object.values(h).sort((a, b) => Date.parse(b.promotedAt) - Date.parse(a.promotedAt));
        return newest[0]?.id === ids.v1 ? h : undefined;
      });
      assert.deepEqual(Object.keys(history).sort(), [ids.v1, ids.v2, ids.v3].sort(), "nothing lost");

      const again = await cli(["rollback", "fraud", "-n", ns.name, "--to-revision", ids.v1!]);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /already describes revision/);
    },
  );
});
