// Installing modelship the way a platform team does: the Helm chart and the static manifests, and the
// controller running with exactly the chart's RBAC. Run with `npm run test:e2e -- install`.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import yaml from "js-yaml";
import { startController, type ControllerProcess } from "./controller/harness.js";
import {
  createNamespace,
  helm,
  kubectl,
  kubectlJson,
  repoRoot,
  waitFor,
  type TestNamespace,
} from "./lib/index.js";

const slow = { timeout: 300_000 };
const release = "modelship-system";

test("the chart lints, and `helm template` matches the committed manifests/install.yaml", async () => {
  await helm(["lint", join(repoRoot, "charts/modelship")]);
  const r = await helm([
    "template",
    "modelship",
    join(repoRoot, "charts/modelship"),
    "--namespace",
    release,
    "--include-crds",
    // the static manifests name a Secret the user creates: a generated token would be public in git
    "--set",
    "collector.auth.existingSecret=modelship-collector-token",
  ]);
  // The file is two header lines, then exactly what helm prints.
  const committed = readFileSync(join(repoRoot, "manifests/install.yaml"), "utf8")
    .split("\n")
    .slice(2)
    .join("\n");
  assert.equal(committed, r.stdout, "manifests/install.yaml is stale: run npm run manifests");
});

let ns: TestNamespace;
let ctl: ControllerProcess | undefined;
before(async () => {
  ns = await createNamespace("install");
  await kubectl(["create", "namespace", release], { allowFailure: true });
  // as the manifests' header says: the collector's token Secret comes first
  await kubectl(
    [
      "create",
      "secret",
      "generic",
      "modelship-collector-token",
      "-n",
      release,
      "--from-literal=token=e2e-token",
    ],
    { allowFailure: true },
  );
});
after(async () => {
  await ctl?.stop();
  await ns?.delete();
});

test(
  "Given the install manifests applied, When the controller runs as the chart's ServiceAccount, Then its RBAC is enough to make a model Ready",
  slow,
  async () => {
    await kubectl([
      "apply",
      "--server-side",
      "--force-conflicts",
      "-f",
      join(repoRoot, "manifests/install.yaml"),
    ]);
    // No image runs here: run the same controller binary locally with the ServiceAccount's token.
    await kubectl(["scale", "deployment/modelship-controller", "-n", release, "--replicas=0"]);
    const token = (
      await kubectl(["create", "token", "modelship-controller", "-n", release, "--duration=1h"])
    ).stdout.trim();
    const admin = yaml.load(
      readFileSync(process.env.E2E_KUBECONFIG ?? join(repoRoot, ".e2e/kubeconfig"), "utf8"),
    ) as any;
    const cluster = admin.clusters[0];
    const kc = {
      apiVersion: "v1",
      kind: "Config",
      clusters: [cluster],
      users: [{ name: "sa", user: { token } }],
      contexts: [{ name: "sa", context: { cluster: cluster.name, user: "sa" } }],
      "current-context": "sa",
    };
    const file = join(mkdtempSync(join(tmpdir(), "modelship-sa-")), "kubeconfig");
    writeFileSync(file, yaml.dump(kc));
    ctl = await startController([
      "--kubeconfig",
      file,
      "--leader-election-namespace",
      release,
      "--leader-election-id",
      `e2e-${ns.name}`,
    ]);
    const md = yaml.load(readFileSync(join(repoRoot, "examples/quickstart-cpu.yaml"), "utf8")) as any;
    md.metadata.namespace = ns.name;
    await kubectl(["apply", "-f", "-"], { input: JSON.stringify(md) });
    await waitFor(
      "Ready under the chart's RBAC",
      async () => {
        const m = await kubectlJson<any>(["get", "md", "iris", "-n", ns.name]);
        return (m.status?.conditions ?? []).some((c: any) => c.type === "Ready" && c.status === "True");
      },
      { timeoutMs: 180_000 },
    );
    // RBAC denials read "... cannot <verb> resource ..."; other 403s (a namespace being deleted) are not RBAC.
    assert.doesNotMatch(ctl.logs(), /cannot \w+ resource/, "no RBAC denials");
  },
);
