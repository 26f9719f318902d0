import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import yaml from "js-yaml";
import { parseModelDeployment, type ModelDeployment } from "../api/v1alpha1/index.js";
import { parseCommandArgs } from "../cmd/command.js";
import { command as loggerCommand } from "../cmd/logger.js";
import { command as serveCommand } from "../cmd/serve.js";
import { repoRoot } from "../testing/repo.js";
import { defaultRenderConfig } from "./config.js";
import { stablePlan } from "./plan.js";
import { render } from "./render.js";

type Obj = Record<string, any>;

function customContainer(container: Record<string, unknown>): ModelDeployment {
  const raw = yaml.load(readFileSync(join(repoRoot, "examples/custom-container.yaml"), "utf8")) as Obj;
  raw.spec.runtime.container = { image: "example.com/server:1", ...container };
  const r = parseModelDeployment(raw);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.value;
}

function renderPod(md: ModelDeployment) {
  const objects = render(md, stablePlan(md), defaultRenderConfig).objects as Obj[];
  const dep = objects.find((o) => o.kind === "Deployment")!;
  const pod = dep.spec.template;
  const logger = (pod.spec.initContainers as Obj[]).find((c) => c.name === "logger")!;
  const model = (pod.spec.containers as Obj[])[0]!;
  const flags = parseCommandArgs(loggerCommand, (logger.args as string[]).slice(1)).values;
  const service = objects.find((o) => o.kind === "Service")!;
  return { pod, logger, model, flags, service };
}

const portOf = (c: Obj, name: string) =>
  (c.ports as { name: string; containerPort: number }[]).find((p) => p.name === name)?.containerPort;

test("a custom container's port is never the logger's: the logger proxies to it, the Service targets the logger", () => {
  // 8080 is both the API's default container port and the logger's own
  for (const port of [8080, 8090, 8081, 9000]) {
    const { pod, logger, model, flags, service } = renderPod(customContainer({ port }));
    const listen = Number(String(flags.listen).split(":").at(-1));
    assert.notEqual(listen, port, `container port ${port}: the logger must listen elsewhere`);
    assert.equal(flags.upstream, `http://127.0.0.1:${port}`);
    assert.equal(portOf(model, "model"), port);
    // the Service's targetPort names the logger's port, never the model's
    const target = service.spec.ports[0].targetPort as string;
    assert.equal(portOf(logger, target), listen);
    assert.equal(portOf(model, target), undefined);
    assert.equal(logger.readinessProbe.httpGet.port, listen);
    assert.equal(logger.livenessProbe.httpGet.port, listen);
    // modelship's metrics in a custom container's pod are the logger's
    assert.equal(pod.metadata.annotations["prometheus.io/port"], String(listen));
  }
});

test("readiness follows the container's protocol: the kubelet's probe and the logger's /readyz check alike", () => {
  const cases: [Record<string, unknown>, Obj, string][] = [
    [{ protocol: "v2" }, { httpGet: { path: "/v2/health/ready", port: 8080 } }, "/v2/health/ready"],
    [{ protocol: "v1" }, { httpGet: { path: "/v1/models/pricing", port: 8080 } }, "/v1/models/pricing"],
    [
      { protocol: "http", readinessPath: "/healthz" },
      { httpGet: { path: "/healthz", port: 8080 } },
      "/healthz",
    ],
    // any HTTP server: ready once it accepts connections
    [{ protocol: "http" }, { tcpSocket: { port: 8080 } }, "tcp"],
  ];
  for (const [container, handler, readiness] of cases) {
    const { model, flags } = renderPod(customContainer({ port: 8080, ...container }));
    const what = JSON.stringify(container);
    assert.deepEqual(
      { ...model.readinessProbe, periodSeconds: undefined, failureThreshold: undefined },
      { ...handler, periodSeconds: undefined, failureThreshold: undefined },
      what,
    );
    assert.equal(flags["upstream-readiness"], readiness, what);
  }
});

test("the built-in server's gRPC port is on the pod and every Service; a custom container has none", () => {
  const r = parseModelDeployment(
    yaml.load(readFileSync(join(repoRoot, "examples/quickstart-cpu.yaml"), "utf8")),
  );
  assert.ok(r.ok);
  const objects = render(r.value, stablePlan(r.value), defaultRenderConfig).objects as Obj[];
  const serve = (objects.find((o) => o.kind === "Deployment")!.spec.template.spec.containers as Obj[])[0]!;
  const flags = parseCommandArgs(serveCommand, (serve.args as string[]).slice(1)).values;
  assert.equal(portOf(serve, "grpc"), Number(flags["grpc-port"]));
  const services = objects.filter((o) => o.kind === "Service");
  assert.ok(services.length >= 2);
  for (const s of services) {
    assert.deepEqual(
      (s.spec.ports as Obj[]).find((p) => p.name === "grpc"),
      { name: "grpc", port: 8085, targetPort: "grpc", protocol: "TCP", appProtocol: "kubernetes.io/h2c" },
      s.metadata.name,
    );
  }
  const custom = renderPod(customContainer({ port: 8085 }));
  assert.deepEqual(
    (custom.service.spec.ports as Obj[]).map((p) => p.name),
    ["http"],
  );
});
