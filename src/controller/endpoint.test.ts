import assert from "node:assert/strict";
import { test } from "node:test";
import { parseModelDeployment, type ModelDeployment } from "../api/v1alpha1/index.js";
import { validBase } from "../api/v1alpha1/invalid-cases.js";
import { endpointsOf, gatewayParent, gatewayView } from "./endpoint.js";

function md(traffic: Record<string, unknown>): ModelDeployment {
  const base = validBase();
  const r = parseModelDeployment({
    ...base,
    metadata: { name: "fraud", namespace: "payments" },
    spec: { ...base.spec, model: { ...base.spec.model, name: "fraud" }, traffic },
  });
  if (!r.ok) throw new Error(r.errors.join("; "));
  return r.value;
}

const svc = "http://fraud.payments.svc.cluster.local/v2/models/fraud";
const gw = gatewayView({
  spec: {
    listeners: [
      { name: "https", port: 443, protocol: "HTTPS" },
      { name: "http", port: 8000, protocol: "HTTP" },
    ],
  },
  status: { addresses: [{ type: "IPAddress", value: "10.1.2.3" }] },
});

test("the plain Service provider: the Service selects every revision, so it is the endpoint", () => {
  assert.deepEqual(endpointsOf(md({ provider: "service" }), "cluster.local"), {
    endpoint: svc,
    serviceEndpoint: svc,
  });
});

test("istio: the Service, whose callers in the mesh get the VirtualService's split", () => {
  assert.equal(endpointsOf(md({ provider: "istio" }), "cluster.local").endpoint, svc);
});

test("a Gateway parent: by the route's first exact hostname, on the first HTTP listener's port", () => {
  const m = md({
    provider: "gatewayAPI",
    parentRefs: [{ name: "inference", namespace: "edge" }],
    hostnames: ["*.example.com", "fraud.example.com"],
  });
  assert.deepEqual(gatewayParent(m), { name: "inference", namespace: "edge" });
  assert.deepEqual(endpointsOf(m, "cluster.local", gw), {
    endpoint: "http://fraud.example.com:8000/v2/models/fraud",
    serviceEndpoint: svc,
  });
});

test("a Gateway parent without hostnames: the Gateway's address; the named listener's scheme and port", () => {
  const m = md({ provider: "gatewayAPI", parentRefs: [{ name: "inference", sectionName: "https" }] });
  assert.deepEqual(gatewayParent(m), { name: "inference", namespace: "payments", sectionName: "https" });
  assert.equal(endpointsOf(m, "cluster.local", gw).endpoint, "https://10.1.2.3/v2/models/fraud");
});

test("a Gateway with no address yet: no endpoint rather than one that bypasses the split", () => {
  const m = md({ provider: "gatewayAPI", parentRefs: [{ name: "inference" }] });
  assert.deepEqual(endpointsOf(m, "cluster.local", gatewayView({})), { serviceEndpoint: svc });
  assert.deepEqual(endpointsOf(m, "cluster.local"), { serviceEndpoint: svc });
});

test("a Service parent (GAMMA): that Service, which the mesh routes by the HTTPRoute", () => {
  const m = md({
    provider: "gatewayAPI",
    parentRefs: [{ group: "", kind: "Service", name: "fraud-entry", port: 8080 }],
  });
  assert.equal(gatewayParent(m), undefined);
  assert.equal(
    endpointsOf(m, "cluster.local").endpoint,
    "http://fraud-entry.payments.svc.cluster.local:8080/v2/models/fraud",
  );
});

test("the CEL twin: kind Service and the core group go together", () => {
  const base = validBase();
  const bad = parseModelDeployment({
    ...base,
    spec: { ...base.spec, traffic: { provider: "gatewayAPI", parentRefs: [{ kind: "Service", name: "x" }] } },
  });
  assert.equal(bad.ok, false);
});
