// What the human review e2e story needs besides the chart and predictions: `modelship review` run as a
// reviewer runs it against the release's collector, and a drift baseline that carries reference quality.
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../src/cmd/main.js";
import { seededRandom } from "../../src/testing/onnx/builders.js";
import { irisCentroids, irisFeatures, irisReference } from "../../src/testing/onnx/iris.js";
import type { Collector } from "./chart.js";
import { repoRoot } from "./env.js";
import { run, type RunResult } from "./exec.js";

/** A flower t of the way from the versicolor to the virginica mean: near t = 0.5 the classifier is unsure. */
export function unsureFlower(t: number): number[] {
  return irisCentroids[1]!.map((m, f) => Math.fround(m + t * (irisCentroids[2]![f]! - m)));
}

/** `modelship review ARGS` from this checkout against the collector, with its token in a file. */
export async function reviewCli(c: Collector, ...args: string[]): Promise<RunResult> {
  const tokenFile = join(tmpdir(), `modelship-review-token-${process.pid}`);
  writeFileSync(tokenFile, c.token + "\n", { mode: 0o600 });
  return run(
    process.execPath,
    [
      "--import",
      "tsx",
      join(repoRoot, "bin/dev.ts"),
      "review",
      ...args,
      "--collector",
      c.url,
      "--token-file",
      tokenFile,
    ],
    { allowFailure: true, timeoutMs: 60_000 },
  );
}

/**
 * A baseline with reference quality in the model store (`modelship baseline --label-field
 * --prediction-field` over labeled iris rows), at .e2e/models/<path>/baseline.json; returns its pvc:// uri.
 */
export async function labeledBaseline(path: string): Promise<string> {
  const dir = join(repoRoot, ".e2e/models", path);
  mkdirSync(dir, { recursive: true });
  const rand = seededRandom(11);
  const rows = [[...irisFeatures, "species", "predicted"].join(",")];
  irisCentroids.forEach((mu, k) => {
    for (let i = 0; i < 50; i++) {
      const x = mu.map((m) => m + (rand() - 0.5) * 0.8);
      rows.push([...x.map((v) => v.toFixed(2)), k, irisReference(x).label].join(","));
    }
  });
  writeFileSync(join(dir, "train.csv"), rows.join("\n") + "\n");
  const out = join(dir, "baseline.json");
  const code = await main([
    "baseline",
    "--data",
    join(dir, "train.csv"),
    "--out",
    out,
    "--label-field",
    "species",
    "--prediction-field",
    "predicted",
  ]);
  if (code !== 0) throw new Error(`modelship baseline exited ${code}`);
  // pods run as uid 65532
  chmodSync(dir, 0o755);
  chmodSync(out, 0o644);
  return `pvc://model-store/${path}/baseline.json`;
}
