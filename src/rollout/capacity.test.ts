import assert from "node:assert/strict";
import { test } from "node:test";
import { freeGPUs, podRequest, type NodeLike, type PodLike } from "./capacity.js";

const node = (
  name: string,
  gpus: number,
  extra: Partial<NodeLike> = {},
  labels: Record<string, string> = {},
): NodeLike => ({
  metadata: { name, labels },
  status: {
    allocatable: { "nvidia.com/gpu": String(gpus), cpu: "32" },
    conditions: [{ type: "Ready", status: "True" }],
  },
  ...extra,
});
const pod = (nodeName: string | undefined, gpus: number, phase = "Running"): PodLike => ({
  spec: {
    ...(nodeName ? { nodeName } : {}),
    containers: [{ resources: { limits: { "nvidia.com/gpu": String(gpus) } } }],
  },
  status: { phase },
});

test("free GPUs: allocatable minus what bound, unfinished pods request, on usable nodes", () => {
  const nodes = [
    node("a", 8, {}, { "nvidia.com/gpu.product": "H100" }),
    node("b", 4, {}, { "nvidia.com/gpu.product": "A10" }),
    node("cordoned", 8, { spec: { unschedulable: true } }),
    node("notready", 8, {
      status: { allocatable: { "nvidia.com/gpu": "8" }, conditions: [{ type: "Ready", status: "False" }] },
    }),
    node("cpu", 0),
  ];
  const pods = [pod("a", 2), pod("a", 1), pod("a", 4, "Succeeded"), pod("b", 4), pod(undefined, 1)];
  assert.equal(freeGPUs(nodes, pods), 5 + 0);
  assert.equal(freeGPUs(nodes, pods, "nvidia.com/gpu", "H100"), 5);
  assert.equal(freeGPUs(nodes, pods, "nvidia.com/gpu", "A10"), 0);
  assert.equal(freeGPUs(nodes, [], "nvidia.com/gpu", "L4"), 0);
  assert.equal(freeGPUs(nodes, [pod("a", 9)]), 4, "an overcommitted node counts as 0, not negative");
});

test("a pod's request: containers plus native sidecars, or its largest init container", () => {
  const p: PodLike = {
    spec: {
      initContainers: [
        { resources: { requests: { "nvidia.com/gpu": "3" } } },
        { restartPolicy: "Always", resources: { limits: { "nvidia.com/gpu": "1" } } },
      ],
      containers: [{ resources: { limits: { "nvidia.com/gpu": "1" } } }],
    },
  };
  assert.equal(podRequest(p, "nvidia.com/gpu"), 3);
  p.spec!.initContainers![0]!.resources = {};
  assert.equal(podRequest(p, "nvidia.com/gpu"), 2);
});
