// The Helm chart against the controller's flags, without helm: values.yaml must hold every key a template
// reads, and the controller's Deployment must pass the installation settings the chart documents.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import yaml from "js-yaml";
import { repoRoot } from "../testing/repo.js";
import { command } from "./controller.js";

const chart = join(repoRoot, "charts/modelship");
const templates = join(chart, "templates");
const values = yaml.load(readFileSync(join(chart, "values.yaml"), "utf8")) as Record<string, unknown>;

function has(obj: unknown, path: string[]): boolean {
  let o = obj;
  for (const k of path) {
    if (typeof o !== "object" || o === null || !(k in o)) return false;
    o = (o as Record<string, unknown>)[k];
  }
  return true;
}

test("every .Values key a chart template reads is in values.yaml", () => {
  for (const f of readdirSync(templates)) {
    const text = readFileSync(join(templates, f), "utf8");
    for (const m of text.matchAll(/\.Values\.([A-Za-z0-9_.]+)/g))
      assert.ok(has(values, m[1]!.split(".")), `${f} reads .Values.${m[1]}, which values.yaml lacks`);
  }
});

test("the chart sets the controller's Prometheus and Pushgateway URLs from controller.* values", () => {
  const tpl = readFileSync(join(templates, "controller.yaml"), "utf8");
  for (const [value, flag] of [
    ["prometheusUrl", "prometheus-url"],
    ["pushgatewayUrl", "pushgateway-url"],
  ] as const) {
    assert.ok(flag in command.options, `modelship controller has --${flag}`);
    assert.ok(has(values, ["controller", value]), `values.yaml documents controller.${value}`);
    const wired = new RegExp(
      `\\{\\{-? with \\.Values\\.controller\\.${value} \\}\\}\\s*- --${flag}=\\{\\{ \\. \\}\\}\\s*\\{\\{-? end \\}\\}`,
    );
    assert.match(tpl, wired, `templates/controller.yaml passes controller.${value} as --${flag}`);
  }
});
