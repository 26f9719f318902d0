// The cache transforms over objects captured from a real API server (src/k8s/testdata: a Deployment the
// controller applied, one of its pods, a GPU node), so managedFields are what Kubernetes writes.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import type { KubeObject } from "./client.js";
import { appliedFieldSet, projectFields, type FieldSet } from "./owned-fields.js";
import { slimChild, slimModelDeployment, slimNode, slimPod } from "./slim.js";
import { isSubset } from "./subset.js";

type Obj = Record<string, any>;
const fixture = (name: string): Obj =>
  JSON.parse(readFileSync(new URL(`./testdata/${name}`, import.meta.url), "utf8")) as Obj;
const manager = "modelship-controller";
const slimDeployment = slimChild(manager);

test("a child keeps the fields its manager applied, its identity and the Deployment status it reads", () => {
  const live = fixture("deployment-applied.json");
  const slim = slimDeployment(live as KubeObject) as Obj;
  // Ours: the pod template we render, the annotations we set.
  const serve = (slim.spec.template.spec.containers as Obj[]).find((c) => c.name === "serve")!;
  assert.equal(serve.image, live.spec.template.spec.containers[0].image);
  assert.ok(slim.metadata.annotations["modelship.io/applied-hash"]);
  // Not ours: the server's defaults and other managers' status fields.
  assert.equal(slim.spec.template.spec.dnsPolicy, undefined);
  assert.equal(serve.terminationMessagePath, undefined);
  assert.equal(slim.metadata.managedFields, undefined);
  assert.deepEqual(Object.keys(slim.status).sort(), [
    "availableReplicas",
    "conditions",
    "observedGeneration",
    "readyReplicas",
    "replicas",
    "updatedReplicas",
  ]);
  assert.equal(slim.status.readyReplicas, live.status.readyReplicas);
  assert.equal(slim.status.conditions[0].lastUpdateTime, undefined);
  assert.equal(slim.metadata.uid, live.metadata.uid);
  assert.deepEqual(slim.metadata.ownerReferences, live.metadata.ownerReferences);
  // Everything kept is what the live object holds: the resync's comparison reads the same values.
  const { status: _s, ...rest } = slim;
  assert.ok(isSubset(rest, live));
});

test("a field another writer took over drops out, so the next resync applies it again", () => {
  const live = fixture("deployment-applied.json");
  const before = slimDeployment(live as KubeObject) as Obj;
  // kubectl edit of the serve container's image: the API server moves the field to kubectl's entry.
  const edited = structuredClone(live);
  edited.spec.template.spec.containers[0].image = "someone/else:latest";
  const ours = edited.metadata.managedFields.find((e: Obj) => e.manager === manager).fieldsV1;
  const serveKey = Object.keys(ours["f:spec"]["f:template"]["f:spec"]["f:containers"]).find((k) =>
    k.includes('"serve"'),
  )!;
  delete ours["f:spec"]["f:template"]["f:spec"]["f:containers"][serveKey]["f:image"];
  edited.metadata.managedFields.push({
    manager: "kubectl-edit",
    operation: "Update",
    fieldsType: "FieldsV1",
    fieldsV1: {
      "f:spec": { "f:template": { "f:spec": { "f:containers": { [serveKey]: { "f:image": {} } } } } },
    },
  });
  const after = slimDeployment(edited as KubeObject) as Obj;
  const { status: _s, ...wanted } = before; // what the controller applied, as the server stored it
  assert.equal(isSubset(wanted, after), false);
  assert.equal(isSubset(wanted, slimDeployment(live as KubeObject)), true);
});

test("a container another writer injected (a mesh sidecar) is not ours and changes nothing", () => {
  const live = fixture("deployment-applied.json");
  const { status: _s, ...wanted } = slimDeployment(live as KubeObject) as Obj;
  const injected = structuredClone(live);
  injected.spec.template.spec.containers.push({ name: "istio-proxy", image: "istio/proxyv2" });
  injected.metadata.managedFields.push({
    manager: "istio-sidecar-injector",
    operation: "Update",
    fieldsType: "FieldsV1",
    fieldsV1: {
      "f:spec": {
        "f:template": {
          "f:spec": {
            "f:containers": { 'k:{"name":"istio-proxy"}': { ".": {}, "f:image": {}, "f:name": {} } },
          },
        },
      },
    },
  });
  assert.ok(isSubset(wanted, slimDeployment(injected as KubeObject)));
});

test("an object the manager never applied keeps only its identity", () => {
  const live = fixture("deployment-applied.json");
  const slim = slimChild("someone-else")(live as KubeObject) as Obj;
  assert.equal(slim.spec?.template, undefined);
  assert.equal(slim.metadata.name, live.metadata.name);
  assert.deepEqual(slim.metadata.labels, live.metadata.labels);
});

test("FieldsV1 projection: keyed, set and indexed list elements; entries of several applies merge", () => {
  const value = {
    ports: [
      { port: 80, protocol: "TCP", name: "http" },
      { port: 81, protocol: "TCP", name: "other" },
    ],
    finalizers: ["a", "b"],
    args: ["--x", "--y"],
  };
  const fields: FieldSet = {
    "f:ports": { 'k:{"port":80,"protocol":"TCP"}': { ".": {}, "f:port": {}, "f:protocol": {} } },
    "f:finalizers": { 'v:"b"': {} },
    "f:args": {},
  };
  assert.deepEqual(projectFields(value, fields), {
    ports: [{ port: 80, protocol: "TCP" }],
    finalizers: ["b"],
    args: ["--x", "--y"],
  });
  assert.deepEqual(projectFields(["p", "q"], { "i:1": {} }), ["q"]);
  const merged = appliedFieldSet(
    [
      { manager, operation: "Apply", fieldsType: "FieldsV1", fieldsV1: { "f:a": {} } },
      { manager, operation: "Apply", fieldsType: "FieldsV1", fieldsV1: { "f:b": {} } },
      { manager, operation: "Apply", subresource: "status", fieldsType: "FieldsV1", fieldsV1: { "f:c": {} } },
      { manager, operation: "Update", fieldsType: "FieldsV1", fieldsV1: { "f:d": {} } },
    ],
    manager,
  );
  assert.deepEqual(merged, { "f:a": {}, "f:b": {} });
});

test("pods: a model's pod keeps what its containers say; a GPU pod elsewhere its GPUs; any other is dropped", () => {
  const pod = fixture("pod-of-model.json");
  const ours = slimPod(() => true)(pod as KubeObject) as Obj;
  assert.equal(ours.spec.nodeName, pod.spec.nodeName);
  assert.equal(ours.status.phase, pod.status.phase);
  assert.equal(ours.status.containerStatuses.length, pod.status.containerStatuses.length);
  assert.equal(ours.status.containerStatuses[0].image, undefined);
  assert.equal(ours.metadata.managedFields, undefined);

  const notOurs = slimPod(() => false);
  assert.equal(notOurs(pod as KubeObject), undefined);
  const gpuPod = structuredClone(pod);
  gpuPod.spec.containers[0].resources = {
    requests: { cpu: "1", "nvidia.com/gpu": "2" },
    limits: { "nvidia.com/gpu": "2" },
  };
  const kept = notOurs(gpuPod as KubeObject) as Obj;
  assert.deepEqual(kept.spec.containers[0].resources, {
    requests: { "nvidia.com/gpu": "2" },
    limits: { "nvidia.com/gpu": "2" },
  });
  assert.equal(kept.status.containerStatuses, undefined);
});

test("nodes keep GPU labels, readiness and extended resources, not their image list", () => {
  const node = fixture("node-gpu.json");
  const slim = slimNode(node as KubeObject) as Obj;
  assert.equal(
    slim.metadata.labels["nvidia.com/gpu.product"],
    node.metadata.labels["nvidia.com/gpu.product"],
  );
  assert.equal(slim.status.allocatable["nvidia.com/gpu"], node.status.allocatable["nvidia.com/gpu"]);
  assert.equal(slim.status.allocatable.cpu, undefined);
  assert.equal(slim.status.images, undefined);
  assert.deepEqual(
    slim.status.conditions.find((c: Obj) => c.type === "Ready"),
    { type: "Ready", status: "True" },
  );
});

test("a ModelDeployment loses managedFields and kubectl's copy of itself, nothing it reads", () => {
  const md = {
    apiVersion: "modelship.io/v1alpha1",
    kind: "ModelDeployment",
    metadata: {
      name: "iris",
      managedFields: [{ manager: "kubectl" }],
      annotations: {
        "kubectl.kubernetes.io/last-applied-configuration": "{...the whole spec...}",
        "modelship.io/promote": "1",
      },
    },
    spec: { model: { name: "iris" } },
    status: { stableRevision: "abc" },
  };
  assert.deepEqual(slimModelDeployment(md as KubeObject), {
    apiVersion: "modelship.io/v1alpha1",
    kind: "ModelDeployment",
    metadata: { name: "iris", annotations: { "modelship.io/promote": "1" } },
    spec: { model: { name: "iris" } },
    status: { stableRevision: "abc" },
  });
});
