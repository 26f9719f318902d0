import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { repoRoot } from "../testing/repo.js";
import { monitoringFiles } from "./files.js";
import { alertRules, dashboardRows, grafanaDashboard } from "./monitoring.js";

/** Every metric name some prom-client metric in src/ declares. */
function declaredMetrics(): Set<string> {
  const names = new Set<string>();
  const walk = (dir: string) => {
    for (const n of readdirSync(dir)) {
      const p = join(dir, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (n.endsWith(".ts") && !n.endsWith(".test.ts"))
        for (const m of readFileSync(p, "utf8").matchAll(/name: "(modelship_[a-z_]+)"/g)) names.add(m[1]!);
    }
  };
  walk(join(repoRoot, "src"));
  return names;
}

/** Metric names a query reads, with histogram suffixes folded onto their histogram. */
function usedMetrics(expr: string): string[] {
  return [...expr.matchAll(/\b(modelship_[a-z_]+)/g)]
    .map((m) => m[1]!)
    .filter((n) => !n.startsWith("modelship_io_")) // scrape labels, not metrics
    .map((n) => n.replace(/_(bucket|sum|count)$/, ""));
}

test("the chart's dashboard and alert rules are what the generator writes (npm run monitoring)", () => {
  for (const [name, text] of Object.entries(monitoringFiles()))
    assert.equal(
      readFileSync(join(repoRoot, "charts/modelship/files", name), "utf8"),
      text,
      `charts/modelship/files/${name} is stale: run npm run monitoring`,
    );
});

test("every metric the dashboard and the alerts read is one the code exports", () => {
  const declared = declaredMetrics();
  assert.ok(declared.size > 20, "found the metric declarations");
  const exprs = [
    ...dashboardRows().flatMap((r) => r.panels.flatMap((p) => p.queries.map((q) => q.expr))),
    ...alertRules().map((r) => r.expr),
  ];
  for (const e of exprs)
    for (const m of usedMetrics(e)) assert.ok(declared.has(m), `${m} (in ${e}) is not declared anywhere`);
});

test("dashboard: unique panel ids, one refId per query, every panel has a query and a description", () => {
  const d = grafanaDashboard() as {
    panels: { id: number; type: string; targets?: { refId: string }[]; description?: string }[];
  };
  const ids = d.panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length);
  for (const p of d.panels.filter((x) => x.type !== "row")) {
    assert.ok(p.targets && p.targets.length > 0);
    assert.equal(new Set(p.targets.map((t) => t.refId)).size, p.targets.length);
    assert.ok(p.description);
  }
  const names = alertRules().map((r) => r.alert);
  assert.equal(new Set(names).size, names.length);
});
