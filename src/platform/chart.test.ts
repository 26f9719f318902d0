// The Helm chart as a whole: its values against the one schema (src/platform/chart-values.ts), then through
// the real `helm template`: the RBAC of each scope, the image, extra flags, scheduling, monitors and the
// test pod (NOTES need a cluster: e2e/install.test.ts). The helm parts skip without helm (`npm run
// cluster:up` builds one into .e2e/bin).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import yaml from "js-yaml";
import { parseCommandArgs } from "../cmd/command.js";
import { command as collectorCommand } from "../cmd/collector.js";
import { command as controllerCommand } from "../cmd/controller.js";
import { repoRoot } from "../testing/repo.js";
import { ChartValues, valuesSchema, valuesSchemaFile, valuesSchemaJSON } from "./chart-values.js";

type Obj = Record<string, any>;

const chart = join(repoRoot, "charts/modelship");
const values = yaml.load(readFileSync(join(chart, "values.yaml"), "utf8")) as Obj;

function findHelm(): string | undefined {
  const bin = join(repoRoot, ".e2e", "bin");
  if (existsSync(bin))
    for (const d of readdirSync(bin).sort().reverse())
      if (existsSync(join(bin, d, "helm"))) return join(bin, d, "helm");
  try {
    execFileSync("helm", ["version", "--short"], { stdio: "ignore" });
    return "helm";
  } catch {
    return undefined;
  }
}
const helm = findHelm();
const skip = helm === undefined ? "no helm binary (npm run cluster:up builds one)" : false;

function helmRun(args: string[]): { ok: boolean; out: string } {
  try {
    return { ok: true, out: execFileSync(helm!, args, { encoding: "utf8", stdio: "pipe" }) };
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string };
    return { ok: false, out: `${e.stderr ?? ""}${e.stdout ?? ""}` };
  }
}

function template(...set: string[]): Obj[] {
  const r = helmRun(["template", "ms", chart, "-n", "ms-system", ...set.flatMap((s) => ["--set", s])]);
  assert.ok(r.ok, r.out);
  return (yaml.loadAll(r.out) as Obj[]).filter((o) => o !== null);
}

const find = (objs: Obj[], kind: string, name: string, namespace?: string) =>
  objs.find(
    (o) =>
      o.kind === kind &&
      o.metadata.name === name &&
      (namespace === undefined || o.metadata.namespace === namespace),
  );
const pod = (objs: Obj[], kind: string, name: string): Obj => {
  const o = find(objs, kind, name);
  assert.ok(o, `${kind}/${name} rendered`);
  return o.spec.template.spec;
};
const controllerFlags = (objs: Obj[]) =>
  parseCommandArgs(controllerCommand, pod(objs, "Deployment", "ms-controller").containers[0].args.slice(1))
    .values;

/** Every RBAC rule as "group/resource:verb", sorted. */
const grants = (rules: Obj[]) =>
  rules
    .flatMap((r) =>
      (r.apiGroups as string[]).flatMap((g) =>
        (r.resources as string[]).flatMap((res) => (r.verbs as string[]).map((v) => `${g}/${res}:${v}`)),
      ),
    )
    .sort();
const writeVerbs = new Set(["create", "update", "patch", "delete", "deletecollection", "escalate", "bind"]);

test("values.schema.json is what `npm run chart-schema` writes", () => {
  assert.equal(
    readFileSync(join(repoRoot, valuesSchemaFile), "utf8"),
    valuesSchemaJSON(),
    `${valuesSchemaFile} is stale: run npm run chart-schema`,
  );
});

test("values.yaml holds every key of the schema, and nothing else", () => {
  const parsed = ChartValues.safeParse(values);
  assert.ok(parsed.success, parsed.success ? "" : JSON.stringify(parsed.error.issues, null, 2));
  // The other way round: a key the schema knows but values.yaml leaves out would be undocumented.
  const missing: string[] = [];
  const walk = (schema: Obj, v: unknown, path: string) => {
    for (const [k, sub] of Object.entries((schema.properties ?? {}) as Record<string, Obj>)) {
      if (k === "global") continue; // Helm's, for a parent chart
      const here = `${path}${k}`;
      if (typeof v !== "object" || v === null || !(k in v)) missing.push(here);
      else if (sub.type === "object" && sub.properties) walk(sub, (v as Obj)[k], `${here}.`);
    }
  };
  walk(valuesSchema(), values, "");
  assert.deepEqual(missing, [], "keys the schema knows that values.yaml lacks");
});

test("the chart lints, and helm refuses values the schema does not allow", { skip }, () => {
  const lint = helmRun(["lint", chart]);
  assert.ok(lint.ok, lint.out);
  for (const [set, why] of [
    ["controler.replicas=1", /additional properties 'controler' not allowed/],
    ["image.digest=sha256:abc", /image\/digest/],
    ["rbac.scope=everywhere", /rbac\/scope/],
    ["controller.logLevel=verbose", /controller\/logLevel/],
    ["controller.namespaces[0]=Not_A_Name", /controller\/namespaces\/0/],
  ] as const) {
    const r = helmRun(["template", "ms", chart, "--set", set]);
    assert.ok(!r.ok, `--set ${set} is refused`);
    assert.match(r.out, why);
  }
});

test(
  "cluster scope: one ClusterRole with the minimum, read-only Gateways, bound to the controller",
  { skip },
  () => {
    const objs = template();
    assert.deepEqual(
      objs.filter((o) => o.kind === "Role").map((o) => o.metadata.name),
      ["ms-leader-election"],
    );
    const role = find(objs, "ClusterRole", "ms-controller")!;
    const g = grants(role.rules);
    for (const want of [
      "modelship.io/modeldeployments:watch",
      "modelship.io/modeldeployments/status:patch",
      "apps/deployments:create",
      "apps/deployments:patch",
      "apps/deployments:delete",
      "/secrets:watch",
      "/nodes:list",
      "/nodes:watch",
      "/pods:list",
      "/pods:watch",
      "gateway.networking.k8s.io/gateways:get",
    ])
      assert.ok(g.includes(want), `grants ${want}`);
    // Every write is server-side apply (create + patch) or a prune (delete): no update, no wildcard.
    assert.deepEqual(
      g.filter((x) => x.endsWith(":update")),
      ["modelship.io/modeldeployments/finalizers:update"],
    );
    assert.ok(!g.some((x) => x.includes("*")), "no wildcards");
    assert.deepEqual(
      g.filter((x) => x.startsWith("gateway.networking.k8s.io/gateways")),
      ["gateway.networking.k8s.io/gateways:get"],
    );
    assert.ok(
      !g.some((x) => /^\/(nodes|pods):/.test(x) && writeVerbs.has(x.split(":")[1]!)),
      "nodes, pods read only",
    );
    const binding = find(objs, "ClusterRoleBinding", "ms-controller")!;
    assert.deepEqual(binding.subjects, [
      { kind: "ServiceAccount", name: "ms-controller", namespace: "ms-system" },
    ]);
    assert.equal(find(objs, "ClusterRole", "ms-controller-cluster-reads"), undefined);
  },
);

test("namespace scope: Roles only in the watched namespaces, plus a read-only ClusterRole", { skip }, () => {
  const clusterScoped = template();
  const objs = template("controller.namespaces={team-a,team-b}");
  assert.deepEqual(
    objs.filter((o) => o.kind === "ClusterRole").map((o) => o.metadata.name),
    ["ms-controller-cluster-reads"],
  );
  const reads = grants(find(objs, "ClusterRole", "ms-controller-cluster-reads")!.rules);
  assert.deepEqual(reads, [
    "/nodes:list",
    "/nodes:watch",
    "/pods:list",
    "/pods:watch",
    "gateway.networking.k8s.io/gateways:get",
  ]);
  const roles = objs.filter((o) => o.kind === "Role" && o.metadata.name === "ms-controller");
  assert.deepEqual(roles.map((r) => r.metadata.namespace).sort(), ["team-a", "team-b"]);
  // The same rules the ClusterRole grants in cluster scope, less the cluster-wide reads.
  const clusterRole = grants(find(clusterScoped, "ClusterRole", "ms-controller")!.rules);
  for (const r of roles)
    assert.deepEqual(
      grants(r.rules),
      clusterRole.filter((x) => !/^\/nodes:|^gateway.networking.k8s.io\/gateways:/.test(x)),
    );
  for (const ns of ["team-a", "team-b"]) {
    const b = find(objs, "RoleBinding", "ms-controller", ns)!;
    assert.deepEqual(b.roleRef, {
      apiGroup: "rbac.authorization.k8s.io",
      kind: "Role",
      name: "ms-controller",
    });
    assert.deepEqual(b.subjects, [{ kind: "ServiceAccount", name: "ms-controller", namespace: "ms-system" }]);
  }
  assert.equal(controllerFlags(objs).namespaces, "team-a,team-b");
  // Nothing else leaves the release namespace or the watched ones.
  for (const o of objs.filter((x) => x.metadata.namespace !== undefined))
    assert.ok(
      ["ms-system", "team-a", "team-b"].includes(o.metadata.namespace),
      `${o.kind} ${o.metadata.namespace}`,
    );

  const noPods = template("controller.namespaces={team-a}", "rbac.listPodsInAllNamespaces=false");
  assert.ok(
    !grants(find(noPods, "ClusterRole", "ms-controller-cluster-reads")!.rules).includes("/pods:list"),
  );
  assert.equal(controllerFlags(noPods)["pods-in-all-namespaces"], "false");
  assert.equal(controllerFlags(objs)["pods-in-all-namespaces"], undefined);

  // An explicit scope wins over auto; namespace scope without namespaces is refused.
  const forced = template("controller.namespaces={team-a}", "rbac.scope=cluster");
  assert.ok(find(forced, "ClusterRole", "ms-controller"));
  assert.equal(find(forced, "Role", "ms-controller", "team-a"), undefined);
  const r = helmRun(["template", "ms", chart, "--set", "rbac.scope=namespace"]);
  assert.ok(!r.ok);
  assert.match(r.out, /rbac.scope namespace needs controller.namespaces/);
});

test("image by tag or by digest, everywhere the image is named; pull secrets on every pod", { skip }, () => {
  const digest = `sha256:${"ab".repeat(32)}`;
  const objs = template(`image.digest=${digest}`, "imagePullSecrets[0].name=registry");
  const want = `modelship/modelship@${digest}`;
  const pods = [
    pod(objs, "Deployment", "ms-controller"),
    pod(objs, "StatefulSet", "ms-collector"),
    find(objs, "Pod", "ms-test-health")!.spec,
  ];
  for (const p of pods) {
    assert.equal(p.containers[0].image, want);
    assert.deepEqual(p.imagePullSecrets, [{ name: "registry" }]);
  }
  assert.equal(controllerFlags(objs).image, want, "model pods get the pinned image too");
  const byTag = template("image.tag=1.2.3");
  assert.equal(pod(byTag, "Deployment", "ms-controller").containers[0].image, "modelship/modelship:1.2.3");
  assert.equal(pod(byTag, "Deployment", "ms-controller").imagePullSecrets, undefined);
});

test(
  "extra args and env reach the controller and the collector, and the commands accept them",
  { skip },
  () => {
    const objs = template(
      "controller.extraArgs={--workers=16}",
      "controller.extraEnv[0].name=HTTPS_PROXY",
      "controller.extraEnv[0].value=http://proxy:3128",
      "collector.extraArgs={--log-level=debug}",
      "collector.extraEnv[0].name=TZ",
      "collector.extraEnv[0].value=UTC",
      "controller.prometheusUrl=http://prometheus.monitoring.svc:9090",
      "controller.leaderElection.id=other-lease",
    );
    const c = pod(objs, "Deployment", "ms-controller").containers[0];
    assert.ok(c.args.includes("--workers=16"));
    assert.deepEqual(c.env.at(-1), { name: "HTTPS_PROXY", value: "http://proxy:3128" });
    const flags = controllerFlags(objs);
    assert.equal(flags["prometheus-url"], "http://prometheus.monitoring.svc:9090");
    assert.equal(flags["leader-election-id"], "other-lease");
    assert.equal(flags["leader-elect"], "true");
    const col = pod(objs, "StatefulSet", "ms-collector").containers[0];
    assert.equal(parseCommandArgs(collectorCommand, col.args.slice(1)).values["log-level"], "debug");
    assert.deepEqual(col.env, [{ name: "TZ", value: "UTC" }]);
  },
);

test("the controller: a PDB and spread over nodes by default, both adjustable", { skip }, () => {
  const objs = template();
  const selector = find(objs, "Deployment", "ms-controller")!.spec.selector.matchLabels;
  const pdb = find(objs, "PodDisruptionBudget", "ms-controller")!;
  assert.equal(pdb.spec.maxUnavailable, 1);
  assert.deepEqual(pdb.spec.selector.matchLabels, selector);
  const soft = pod(objs, "Deployment", "ms-controller").affinity.podAntiAffinity;
  assert.deepEqual(soft.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm, {
    topologyKey: "kubernetes.io/hostname",
    labelSelector: { matchLabels: selector },
  });

  const hard = template("controller.podAntiAffinity=hard", "controller.podDisruptionBudget.enabled=false");
  assert.equal(find(hard, "PodDisruptionBudget", "ms-controller"), undefined);
  assert.deepEqual(
    pod(hard, "Deployment", "ms-controller").affinity.podAntiAffinity
      .requiredDuringSchedulingIgnoredDuringExecution,
    [{ topologyKey: "kubernetes.io/hostname", labelSelector: { matchLabels: selector } }],
  );
  const own = template("controller.affinity.nodeAffinity.x=y", "controller.nodeSelector.pool=system");
  assert.deepEqual(pod(own, "Deployment", "ms-controller").affinity, { nodeAffinity: { x: "y" } });
  assert.deepEqual(pod(own, "Deployment", "ms-controller").nodeSelector, { pool: "system" });
  assert.equal(
    pod(template("controller.podAntiAffinity=none"), "Deployment", "ms-controller").affinity,
    undefined,
  );
});

test(
  "ServiceMonitors select the controller's and the collector's Services on their metrics ports",
  { skip },
  () => {
    assert.equal(
      template().find((o) => o.kind === "ServiceMonitor"),
      undefined,
    );
    const objs = template(
      "monitoring.serviceMonitor.enabled=true",
      "monitoring.serviceMonitor.labels.release=kps",
    );
    for (const [monitor, service] of [
      ["ms-controller", "ms-controller-metrics"],
      ["ms-collector", "ms-collector"],
    ] as const) {
      const sm = find(objs, "ServiceMonitor", monitor)!;
      const svc = find(objs, "Service", service)!;
      assert.equal(sm.metadata.labels.release, "kps");
      for (const [k, v] of Object.entries(sm.spec.selector.matchLabels))
        assert.equal(svc.metadata.labels[k], v, `${service} carries ${k}=${v}`);
      // ...and no other Service does.
      const selected = objs.filter(
        (o) =>
          o.kind === "Service" &&
          Object.entries(sm.spec.selector.matchLabels).every(([k, v]) => o.metadata.labels[k] === v),
      );
      assert.deepEqual(
        selected.map((s) => s.metadata.name),
        [service],
      );
      const port = sm.spec.endpoints[0].port;
      assert.ok(
        svc.spec.ports.some((p: Obj) => p.name === port),
        `${service} has port ${port}`,
      );
      assert.equal(sm.spec.endpoints[0].path, "/metrics");
    }
    const noCollector = template("monitoring.serviceMonitor.enabled=true", "collector.enabled=false");
    assert.deepEqual(
      noCollector.filter((o) => o.kind === "ServiceMonitor").map((o) => o.metadata.name),
      ["ms-controller"],
    );
  },
);

test("collector persistence: a claim template, your own claim, or an emptyDir", { skip }, () => {
  const sts = (objs: Obj[]) => find(objs, "StatefulSet", "ms-collector")!;
  const claimed = sts(template("collector.storage=50Gi", "collector.storageClassName=fast"));
  assert.equal(claimed.spec.volumeClaimTemplates[0].spec.resources.requests.storage, "50Gi");
  assert.equal(claimed.spec.volumeClaimTemplates[0].spec.storageClassName, "fast");
  assert.equal(claimed.spec.persistentVolumeClaimRetentionPolicy.whenDeleted, "Delete");

  const own = sts(template("collector.persistence.existingClaim=events"));
  assert.equal(own.spec.volumeClaimTemplates, undefined);
  assert.deepEqual(
    own.spec.template.spec.volumes.find((v: Obj) => v.name === "data"),
    { name: "data", persistentVolumeClaim: { claimName: "events" } },
  );
  const none = sts(template("collector.persistence.enabled=false"));
  assert.equal(none.spec.volumeClaimTemplates, undefined);
  assert.ok(none.spec.template.spec.volumes.some((v: Obj) => v.name === "data" && v.emptyDir));
});

test(
  "the shared archive: every collector replica writes it, the controller points drift jobs at it with its credentials; more than one replica needs it",
  { skip },
  () => {
    const objs = template(
      "collector.replicas=3",
      "collector.archive.url=s3://ml-events/archive",
      "collector.archive.credentialsSecret=events-s3",
      "collector.archive.retentionDays=30",
    );
    const sts = find(objs, "StatefulSet", "ms-collector")!;
    assert.equal(sts.spec.replicas, 3);
    const c = sts.spec.template.spec.containers[0];
    const flags = parseCommandArgs(collectorCommand, c.args.slice(1)).values;
    assert.deepEqual(
      [flags.archive, flags["archive-mode"], flags["archive-retention-days"]],
      ["s3://ml-events/archive", "copy", "30"],
    );
    assert.deepEqual(c.envFrom, [{ secretRef: { name: "events-s3" } }]);

    const ctl = controllerFlags(objs);
    assert.equal(ctl["events-archive"], "s3://ml-events/archive");
    const spec = pod(objs, "Deployment", "ms-controller");
    const mount = spec.containers[0].volumeMounts.find((m: Obj) => m.name === "archive-credentials");
    assert.equal(ctl["events-archive-credentials"], mount.mountPath);
    assert.equal(
      spec.volumes.find((v: Obj) => v.name === "archive-credentials").secret.secretName,
      "events-s3",
    );

    const plain = template();
    assert.equal(controllerFlags(plain)["events-archive"], undefined);
    assert.equal(
      parseCommandArgs(
        collectorCommand,
        find(plain, "StatefulSet", "ms-collector")!.spec.template.spec.containers[0].args.slice(1),
      ).values.archive,
      undefined,
    );
    const refused = helmRun(["template", "ms", chart, "--set", "collector.replicas=2"]);
    assert.ok(!refused.ok);
    assert.match(refused.out, /collector\.replicas above 1 needs collector\.archive\.url/);
    const badUrl = helmRun(["template", "ms", chart, "--set", "collector.archive.url=/data/archive"]);
    assert.ok(!badUrl.ok);
    assert.match(badUrl.out, /\/collector\/archive\/url.*does not match pattern .\^s3:/s);
  },
);

test("the helm test pod checks the controller and the collector through their Services", { skip }, () => {
  const objs = template();
  const t = find(objs, "Pod", "ms-test-health")!;
  assert.equal(t.metadata.annotations["helm.sh/hook"], "test");
  const c = t.spec.containers[0];
  const env = Object.fromEntries(c.env.map((e: Obj) => [e.name, e.value]));
  const svcUrl = (name: string, port: number) => `http://${name}.ms-system.svc:${port}`;
  assert.equal(env.CONTROLLER_URL, svcUrl("ms-controller-metrics", 8080));
  assert.equal(env.COLLECTOR_URL, svcUrl("ms-collector", 9090));
  assert.ok(find(objs, "Service", "ms-controller-metrics")!.spec.ports.some((p: Obj) => p.port === 8080));
  // The token it checks with is the collector's, and the NetworkPolicy lets it in.
  const mount = c.volumeMounts.find((m: Obj) => env.COLLECTOR_TOKEN_FILE.startsWith(m.mountPath));
  const vol = t.spec.volumes.find((v: Obj) => v.name === mount.name);
  assert.equal(vol.secret.secretName, "ms-collector-token");
  const np = find(objs, "NetworkPolicy", "ms-collector")!;
  assert.ok(
    np.spec.ingress[0].from.some(
      (f: Obj) =>
        f.namespaceSelector === undefined &&
        Object.entries(f.podSelector?.matchLabels ?? {}).every(([k, v]) => t.metadata.labels[k] === v),
    ),
    "the NetworkPolicy admits the test pod from the release namespace",
  );
  assert.equal(t.spec.securityContext.runAsNonRoot, true);
  assert.equal(t.spec.automountServiceAccountToken, false);
  // Without a collector the pod checks the controller alone.
  const alone = find(template("collector.enabled=false"), "Pod", "ms-test-health")!.spec.containers[0];
  assert.deepEqual(
    alone.env.map((e: Obj) => e.name),
    ["CONTROLLER_URL"],
  );
});
