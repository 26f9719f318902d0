// Installing modelship the way a platform team does: the static manifests with the controller running under
// exactly their RBAC, the chart's namespace scope keeping the controller out of other namespaces, and a
// `helm upgrade` from the previous chart, CRD first, while a model serves on the real node. Run with
// `npm run test:e2e -- install`.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import yaml from "js-yaml";
import { Agent } from "undici";
import { startController } from "./controller/harness.js";
import {
  clusterEnv,
  createNamespace,
  edgeEnv,
  helm,
  kubectl,
  kubectlJson,
  repoRoot,
  run,
  waitFor,
  type TestNamespace,
} from "./lib/index.js";
import { flower, predict, serviceUrl, type Prediction } from "./lib/inference.js";

type Obj = Record<string, any>;

const env = clusterEnv();
const slow = { timeout: 300_000 };
const release = "modelship-system";
const chartDir = join(repoRoot, "charts/modelship");
const valuesLocal = join(repoRoot, "e2e/cluster/values-local.yaml");
/** RBAC denials read "... cannot <verb> resource ..."; other 403s (a namespace being deleted) are not RBAC. */
const rbacDenial = /cannot \w+ resource/;

test("the chart lints, and manifests/ is what `npm run manifests` renders from it", async () => {
  await helm(["lint", chartDir]);
  await run("bash", [join(repoRoot, "scripts/manifests.sh"), "--check"], {
    env: { ...process.env, HELM: env.helm },
  });
});

let ns: TestNamespace;
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
  await ns?.delete();
  // What the manifests test applied, but the CRD: other test files' ModelDeployments live on it.
  const applied = (
    yaml.loadAll(readFileSync(join(repoRoot, "manifests/install.yaml"), "utf8")) as Obj[]
  ).filter((o) => o !== null && o.kind !== "CustomResourceDefinition");
  await kubectl(["delete", "--ignore-not-found", "--wait=false", "-f", "-"], {
    input: applied.map((o) => yaml.dump(o)).join("---\n"),
    allowFailure: true,
  });
  await kubectl(["delete", "namespace", release, "--ignore-not-found", "--wait=false"], {
    allowFailure: true,
  });
});

/** A kubeconfig for the e2e cluster that authenticates as a ServiceAccount's token. */
async function serviceAccountKubeconfig(sa: string, namespace: string): Promise<string> {
  const token = (await kubectl(["create", "token", sa, "-n", namespace, "--duration=1h"])).stdout.trim();
  const admin = yaml.load(readFileSync(env.kubeconfig, "utf8")) as any;
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
  return file;
}

test(
  "Given the install manifests applied, When the controller runs as the chart's ServiceAccount, Then its RBAC is enough to make a model Ready",
  slow,
  async () => {
    // No image runs here: the manifests' controller at 0 replicas, and the same controller binary run
    // locally with the ServiceAccount's token, watching this test's namespace only (other test files may
    // be running theirs).
    const manifests = (yaml.loadAll(readFileSync(join(repoRoot, "manifests/install.yaml"), "utf8")) as Obj[])
      .filter((o) => o !== null)
      .map((o) => (o.kind === "Deployment" ? { ...o, spec: { ...o.spec, replicas: 0 } } : o));
    await kubectl(["apply", "--server-side", "--force-conflicts", "-f", "-"], {
      input: manifests.map((o) => yaml.dump(o)).join("---\n"),
    });
    const ctl = await startController([
      "--kubeconfig",
      await serviceAccountKubeconfig("modelship-controller", release),
      "--namespaces",
      ns.name,
      "--leader-election-namespace",
      release,
      "--leader-election-id",
      `e2e-${ns.name}`,
    ]);
    try {
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
      // The drift job's Role and RoleBinding too: Kubernetes lets the controller grant only what it holds.
      await kubectlJson(["get", "role,rolebinding", "iris-drift", "-n", ns.name]);
      assert.doesNotMatch(ctl.logs(), rbacDenial, "no RBAC denials");
    } finally {
      await ctl.stop();
    }
  },
);

/** `kubectl auth can-i VERB RESOURCE[/SUBRESOURCE] [-n NS]` as `sa`, for "VERB RESOURCE": true for "yes". */
async function can(sa: string, action: string, namespace?: string): Promise<boolean> {
  const [verb, resource] = action.split(" ") as [string, string];
  const [res, sub] = resource.split("/") as [string, string | undefined];
  const r = await kubectl(
    [
      "auth",
      "can-i",
      verb,
      res,
      ...(sub ? [`--subresource=${sub}`] : []),
      `--as=${sa}`,
      ...(namespace ? ["-n", namespace] : []),
    ],
    { allowFailure: true },
  );
  const answer = r.stdout.trim();
  assert.ok(answer === "yes" || answer === "no", `can-i answered ${JSON.stringify(r.stdout + r.stderr)}`);
  return answer === "yes";
}

test(
  "Given the chart in namespace scope, Then its controller may act in the watched namespace and cannot touch another",
  slow,
  async () => {
    const scopeRelease = "ms-scope";
    const watched = await createNamespace("scope-watched", env, { modelStore: false });
    const other = await createNamespace("scope-other", env, { modelStore: false });
    const system = await createNamespace("scope-system", env, { modelStore: false });
    try {
      // Only the RBAC matters here: no controller or collector pods.
      await helm([
        "install",
        scopeRelease,
        chartDir,
        "-n",
        system.name,
        "--set",
        `controller.namespaces[0]=${watched.name}`,
        "--set",
        "controller.replicas=0",
        "--set",
        "collector.enabled=false",
      ]);
      const sa = `system:serviceaccount:${system.name}:${scopeRelease}-controller`;
      // What the controller does in the namespace it watches.
      for (const action of [
        "watch modeldeployments.modelship.io",
        "patch modeldeployments.modelship.io/status",
        "create deployments.apps",
        "patch deployments.apps",
        "delete services",
        "create secrets",
        "create roles.rbac.authorization.k8s.io",
        "create events",
      ])
        assert.ok(await can(sa, action, watched.name), `may ${action} in ${watched.name}`);
      // Nothing of the kind anywhere else: not in another namespace, not in its own release namespace.
      for (const namespace of [other.name, system.name, "default"])
        for (const action of [
          "create deployments.apps",
          "patch deployments.apps",
          "delete services",
          "create configmaps",
          "get secrets",
          "list secrets",
          "create secrets",
          "create roles.rbac.authorization.k8s.io",
          "create rolebindings.rbac.authorization.k8s.io",
          "list modeldeployments.modelship.io",
          "patch modeldeployments.modelship.io/status",
          "create pods",
          "get pods",
          "create events",
        ])
          assert.ok(!(await can(sa, action, namespace)), `must not ${action} in ${namespace}`);
      // Cluster-wide it only reads, and only what docs/rbac.md lists.
      for (const action of [
        "list nodes",
        "watch nodes",
        "get gateways.gateway.networking.k8s.io",
        "list pods",
      ])
        assert.ok(await can(sa, action, other.name), `may ${action} cluster-wide`);
      for (const action of [
        "patch nodes",
        "create namespaces",
        "create clusterroles.rbac.authorization.k8s.io",
        "create clusterrolebindings.rbac.authorization.k8s.io",
        "patch customresourcedefinitions.apiextensions.k8s.io",
        "list gateways.gateway.networking.k8s.io",
      ])
        assert.ok(!(await can(sa, action)), `must not ${action}`);
      // And the API server says so to a real request.
      const denied = await kubectl(
        ["create", "configmap", "intruder", "-n", other.name, `--as=${sa}`, "--from-literal=a=b"],
        { allowFailure: true },
      );
      assert.notEqual(denied.code, 0);
      assert.match(denied.stderr, /forbidden/);
    } finally {
      await helm(["uninstall", scopeRelease, "-n", system.name], { allowFailure: true });
      await Promise.all([watched.delete(), other.delete(), system.delete()]);
    }
  },
);

/**
 * The chart this one upgrades from: charts/modelship as of the commit before namespace scope, values schema
 * and helm test came in (E2E_PREVIOUS_CHART_REF overrides it), with its version set to 0.0.0-previous.
 */
const previousChartRef = process.env.E2E_PREVIOUS_CHART_REF ?? "89747749e4c561b183a9a577fa12501100f7abe8";

/** The CRD a previous release installed: this one less its Drift printer column. */
function olderCRD(crd: Obj): Obj {
  const old = structuredClone(crd);
  for (const v of old.spec.versions)
    v.additionalPrinterColumns = v.additionalPrinterColumns.filter((c: Obj) => c.name !== "Drift");
  return old;
}

const realNode = env.bundled && edgeEnv() !== undefined;

test(
  "Given a model serving under the previous chart, When its CRD and then the chart are upgraded, Then no request fails and the controller moves to namespace scope",
  { timeout: 1_200_000, skip: !realNode && "needs the bundled cluster's real node" },
  async (t) => {
    const upRelease = "ms-upgrade";
    const work = mkdtempSync(join(tmpdir(), "modelship-upgrade-"));
    const models = await createNamespace("upgrade", env, { pods: "real" });
    // The controller and the collector run as real pods too.
    const system = await createNamespace("upgrade-system", env, { pods: "real", modelStore: false });
    const helmValues = ["--values", valuesLocal, "--set", `controller.namespaces[0]=${models.name}`];
    try {
      // The image the pods run, built from the Dockerfile and loaded into the node's containerd
      // (E2E_PREBUILT_IMAGE=1: the last one `npm run image` built; the charts are what this test is about).
      if (process.env.E2E_PREBUILT_IMAGE !== "1")
        await run("bash", [join(repoRoot, "scripts/image.sh")], { timeoutMs: 1_200_000 });
      await run("bash", [join(repoRoot, "e2e/cluster/load-images.sh")], { timeoutMs: 300_000 });

      // Both charts as `helm package` artefacts.
      const previous = join(work, "previous");
      try {
        execFileSync("bash", [
          "-c",
          `mkdir -p "$2" && git -C "$1" archive "$3" charts/modelship | tar -x -C "$2" --strip-components=2`,
          "-",
          repoRoot,
          previous,
          previousChartRef,
        ]);
      } catch {
        t.diagnostic(`${previousChartRef} is not in this clone: upgrading from a copy of the current chart`);
        rmSync(previous, { recursive: true, force: true });
        execFileSync("cp", ["-r", chartDir, previous]);
      }
      const chartYaml = join(previous, "Chart.yaml");
      writeFileSync(
        chartYaml,
        readFileSync(chartYaml, "utf8").replace(/^version: .*$/m, "version: 0.0.0-previous"),
      );
      const crdFile = join(previous, "crds/modelship.io_modeldeployments.yaml");
      const currentCRD = yaml.load(
        readFileSync(join(chartDir, "crds/modelship.io_modeldeployments.yaml"), "utf8"),
      ) as Obj;
      writeFileSync(crdFile, yaml.dump(olderCRD(currentCRD)));
      await helm(["package", previous, "--destination", work]);
      await helm(["package", chartDir, "--destination", work]);
      const version = (yaml.load(readFileSync(join(chartDir, "Chart.yaml"), "utf8")) as Obj).version;
      const previousTgz = join(work, "modelship-0.0.0-previous.tgz");
      const currentTgz = join(work, `modelship-${version}.tgz`);

      // Given: the cluster as the previous release left it (its CRD, its chart), and a model serving. The
      // CRD is written with a plain update, as Helm writes what it installs from crds/.
      const live = await kubectlJson<Obj>(["get", "crd", "modeldeployments.modelship.io"]);
      delete live.metadata.managedFields;
      delete live.status;
      await kubectl(["replace", "-f", "-"], { input: JSON.stringify(olderCRD(live)) });
      await helm(
        ["install", upRelease, previousTgz, "-n", system.name, ...helmValues, "--wait", "--timeout", "5m"],
        { timeoutMs: 400_000 },
      );
      assert.ok(
        (await kubectlJson<Obj>(["get", "clusterrole", `${upRelease}-controller`])).rules.length > 0,
        "the previous chart's ClusterRole",
      );
      const md = yaml.load(readFileSync(join(repoRoot, "examples/quickstart-cpu.yaml"), "utf8")) as Obj;
      md.metadata.namespace = models.name;
      md.spec.resources.cpu = "100m"; // the node has 2 cores, shared with other tests' models
      await kubectl(["apply", "-f", "-"], { input: JSON.stringify(md) });
      await waitFor(
        "iris Ready under the previous chart",
        async () => {
          const m = await kubectlJson<Obj>(["get", "md", "iris", "-n", models.name]);
          return m.status?.conditions?.some((c: Obj) => c.type === "Ready" && c.status === "True");
        },
        { timeoutMs: 300_000 },
      ).catch(async (err: Error) => {
        throw new Error(`${err.message}\n${await whyNotReady(models.name, system.name)}`);
      });
      const base = await serviceUrl("iris", models.name);
      await waitFor(
        "iris answers through its Service",
        async () => (await predict(base, "iris", [flower(0)])).ok,
        {
          timeoutMs: 60_000,
        },
      );
      const podsBefore = await modelPods(models.name);

      // When: steady traffic, the new CRD applied as docs/install.md says, then helm upgrade.
      const traffic = steadyTraffic(base);
      await new Promise((r) => setTimeout(r, 3_000));
      const crds = await helm(["show", "crds", currentTgz]);
      await kubectl(["apply", "--server-side", "--force-conflicts", "-f", "-"], { input: crds.stdout });
      await helm(
        ["upgrade", upRelease, currentTgz, "-n", system.name, ...helmValues, "--wait", "--timeout", "5m"],
        { timeoutMs: 400_000 },
      );
      await waitFor("the new controllers Ready", async () => {
        const d = await kubectlJson<Obj>(["get", "deployment", `${upRelease}-controller`, "-n", system.name]);
        return (
          d.status.observedGeneration === d.metadata.generation &&
          d.status.updatedReplicas === d.spec.replicas &&
          d.status.readyReplicas === d.spec.replicas &&
          d.status.replicas === d.spec.replicas
        );
      });
      await new Promise((r) => setTimeout(r, 5_000));
      const results = await traffic.stop();

      // Then: every request answered, by the same model pods.
      const failed = results.filter((r) => !r.ok);
      t.diagnostic(`${results.length} requests during the upgrade, ${failed.length} failed`);
      assert.ok(results.length >= 50, `${results.length} requests sent`);
      assert.deepEqual(
        failed.slice(0, 5).map((r) => `${r.status} ${r.error ?? JSON.stringify(r.body)}`),
        [],
        `${failed.length} of ${results.length} requests failed during the upgrade`,
      );
      assert.deepEqual(await modelPods(models.name), podsBefore, "the upgrade restarted no model pod");

      // The CRD is the new chart's, the release is the new chart, and its RBAC is namespace scope.
      const crd = await kubectlJson<Obj>(["get", "crd", "modeldeployments.modelship.io"]);
      assert.ok(
        crd.spec.versions[0].additionalPrinterColumns.some((c: Obj) => c.name === "Drift"),
        "the new CRD's printer column",
      );
      const history = JSON.parse(
        (await helm(["history", upRelease, "-n", system.name, "-o", "json"])).stdout,
      );
      assert.deepEqual(
        history.map((h: Obj) => h.chart),
        ["modelship-0.0.0-previous", `modelship-${version}`],
      );
      const gone = await kubectl(["get", "clusterrole", `${upRelease}-controller`], { allowFailure: true });
      assert.notEqual(gone.code, 0, "the cluster-scope ClusterRole is gone");
      await kubectlJson(["get", "role", `${upRelease}-controller`, "-n", models.name]);

      // The new controller acts in its namespace under the Role: it grants the drift job's Role again (which
      // Kubernetes allows only to who holds those permissions), and a spec change reaches the drift CronJob.
      const driftRole = await kubectlJson<Obj>(["get", "role", "iris-drift", "-n", models.name]);
      await kubectl(["delete", "role", "iris-drift", "-n", models.name]);
      await waitFor("the drift Role made again by the new controller", async () => {
        const r = await kubectl(["get", "role", "iris-drift", "-n", models.name, "-o", "json"], {
          allowFailure: true,
        });
        return r.code === 0 && JSON.parse(r.stdout).metadata.uid !== driftRole.metadata.uid;
      });
      await kubectl([
        "patch",
        "md",
        "iris",
        "-n",
        models.name,
        "--type=merge",
        "-p",
        JSON.stringify({ spec: { monitoring: { drift: { schedule: "30 * * * *" } } } }),
      ]);
      await waitFor("the drift CronJob rescheduled by the new controller", async () => {
        const cj = await kubectlJson<Obj>(["get", "cronjob", "iris-drift", "-n", models.name]);
        return cj.spec.schedule === "30 * * * *";
      });
      // Only the new chart's pods: a pod of the previous one (the new image under the old RBAC, which grants
      // no Jobs) may still be terminating, its logs readable, after the Deployment reports the rollout done.
      const controllerPods = `app.kubernetes.io/instance=${upRelease},app.kubernetes.io/component=controller`;
      await waitFor("the previous chart's controller pods gone", async () => {
        const d = await kubectlJson<Obj>(["get", "deployment", `${upRelease}-controller`, "-n", system.name]);
        const pods = await kubectlJson<{ items: Obj[] }>([
          "get",
          "pods",
          "-n",
          system.name,
          "-l",
          controllerPods,
        ]);
        return (
          pods.items.length === d.spec.replicas && pods.items.every((p) => !p.metadata.deletionTimestamp)
        );
      });
      const logs = await kubectl(["logs", "-n", system.name, "-l", controllerPods, "--tail=-1"]);
      assert.doesNotMatch(logs.stdout, rbacDenial, "no RBAC denials under namespace scope");

      // helm test: the chart's test pod reaches the controller and the collector (a failed one stays).
      const tested = await helm(["test", upRelease, "-n", system.name, "--timeout", "3m"], {
        timeoutMs: 240_000,
        allowFailure: true,
      });
      if (tested.code !== 0) {
        const podLogs = await kubectl(["logs", `${upRelease}-test-health`, "-n", system.name], {
          allowFailure: true,
        });
        assert.fail(`helm test failed: ${tested.stderr}\n${podLogs.stdout}${podLogs.stderr}`);
      }
      assert.match(tested.stdout, /Phase:\s+Succeeded/);
      const notes = await helm(["get", "notes", upRelease, "-n", system.name]);
      assert.match(notes.stdout, new RegExp(`watching ${models.name}`));
      assert.match(notes.stdout, /namespace scope/);
    } finally {
      await kubectl(["delete", "md", "--all", "-n", models.name, "--wait=false"], { allowFailure: true });
      await helm(["uninstall", upRelease, "-n", system.name, "--wait"], {
        allowFailure: true,
        timeoutMs: 300_000,
      });
      await Promise.all([models.delete(), system.delete()]);
      // This checkout's CRD, whatever step failed.
      await kubectl(["apply", "--server-side", "--force-conflicts", "-f", join(chartDir, "crds")], {
        allowFailure: true,
      });
      rmSync(work, { recursive: true, force: true });
    }
  },
);

/** What a test that waited in vain shows: the models' status, their pods, the controller's last log lines. */
async function whyNotReady(namespace: string, systemNamespace: string): Promise<string> {
  const out = async (args: string[]) => {
    const r = await kubectl(args, { allowFailure: true });
    return `$ kubectl ${args.join(" ")}\n${r.stdout}${r.stderr}`;
  };
  return [
    await out(["get", "md", "-n", namespace, "-o", "jsonpath={.items[*].status}"]),
    await out(["get", "pods", "-n", namespace, "-o", "wide"]),
    await out(["get", "pods", "-n", systemNamespace, "-o", "wide"]),
    await out(["logs", "-n", systemNamespace, "-l", "app.kubernetes.io/component=controller", "--tail=20"]),
  ].join("\n");
}

/** The model pods' names and restart counts. */
async function modelPods(namespace: string): Promise<string[]> {
  const list = await kubectlJson<{ items: Obj[] }>([
    "get",
    "pods",
    "-n",
    namespace,
    "-l",
    "app.kubernetes.io/component=inference",
  ]);
  return list.items
    .map((p) => {
      const restarts = (p.status.containerStatuses ?? []).reduce(
        (n: number, c: Obj) => n + c.restartCount,
        0,
      );
      return `${p.metadata.name} restarts=${restarts}`;
    })
    .sort();
}

/** A prediction every 50 ms, each on a new connection so kube-proxy spreads them, until stopped. */
function steadyTraffic(base: string) {
  const results: Prediction[] = [];
  const fresh = new Agent({ pipelining: 0 });
  let stopped = false;
  const done = (async () => {
    for (let i = 0; !stopped; i++) {
      results.push(await predict(base, "iris", [flower(i)], { dispatcher: fresh }));
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await done;
      await fresh.close();
      return results;
    },
  };
}
