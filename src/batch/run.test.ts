import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { createLogger } from "../platform/log.js";
import {
  gatherModel,
  mlpModel,
  mlpReference,
  scaleModel,
  seededRandom,
  tempDir,
  writeModel,
} from "../testing/onnx/builders.js";
import { runBatch, type BatchOptions } from "./run.js";

const dir = tempDir("modelship-batch-");
const mlp = mlpModel({ layers: [3, 8, 2], seed: 4 });
const mlpPath = writeModel(mlp, dir, "mlp.onnx");

function options(extra: Partial<BatchOptions> & Pick<BatchOptions, "input" | "output">): BatchOptions {
  return {
    model: { name: "m", version: "1", path: mlpPath },
    idField: "id",
    batchSize: 4,
    workers: 1,
    intraOpThreads: 1,
    pvcRoot: "/nonexistent",
    env: {},
    log: createLogger({ name: "batch", level: "silent" }),
    ...extra,
  };
}

const readJsonl = (p: string) =>
  readFileSync(p, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

test("JSONL rows predict in order beside their ids; malformed rows go to rejects and the run continues", async () => {
  const rand = seededRandom(3);
  const rows = Array.from({ length: 10 }, (_, i) => ({
    id: `r${i}`,
    f: Array.from({ length: 3 }, () => Math.fround(rand())),
  }));
  const lines = rows.map((r, i) =>
    i % 2 === 0
      ? JSON.stringify({ id: r.id, input: r.f })
      : JSON.stringify({ id: r.id, a: r.f[0], b: r.f[1], c: r.f[2] }),
  );
  lines.splice(
    3,
    0,
    "{not json",
    JSON.stringify({ id: "short", a: 1 }),
    JSON.stringify({ id: "nan", input: [1, "x", 3] }),
    "",
  );
  const input = join(dir, "rows.jsonl");
  writeFileSync(input, lines.join("\n") + "\n");
  const output = join(dir, "out.jsonl");
  const rejects = join(dir, "rejects.jsonl");
  const s = await runBatch(options({ input, output, rejects }));
  assert.equal(s.rows, 13);
  assert.equal(s.predicted, 10);
  assert.equal(s.rejected, 3);
  const out = readJsonl(output);
  assert.deepEqual(
    out.map((o) => o.id),
    rows.map((r) => r.id),
  );
  out.forEach((o, i) => {
    const want = mlpReference(mlp, rows[i]!.f);
    (o.output as number[]).forEach((v, j) => assert.ok(Math.abs(v - want[j]!) < 1e-5));
  });
  const rej = readJsonl(rejects);
  assert.deepEqual(
    rej.map((r) => r.line),
    [4, 5, 6],
  );
  assert.match(String(rej[0]!.reason), /not valid JSON/);
  assert.match(String(rej[1]!.reason), /row has 1 feature fields besides "id", input "input" takes 3/);
  assert.match(String(rej[2]!.reason), /input "input": element 1 is "x", expected a number/);
  assert.equal(rej[0]!.row, "{not json");
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.includes(".tmp-")),
    [],
  );
});

test("CSV in, CSV out, with the id column and flattened outputs", async () => {
  const input = join(dir, "rows.csv");
  writeFileSync(input, 'id,a,b,c\n1,0.5,0.25,1\n2,1,2,3\n3,bad,2,3\n4,"1",2\n');
  const output = join(dir, "out.csv");
  const rejects = join(dir, "rej.jsonl");
  const s = await runBatch(options({ input, output, rejects }));
  assert.equal(s.predicted, 2);
  assert.equal(s.rejected, 2);
  const [header, ...rest] = readFileSync(output, "utf8").trim().split("\n");
  assert.equal(header, "id,output_0,output_1");
  const first = rest[0]!.split(",").map(Number);
  const want = mlpReference(mlp, [0.5, 0.25, 1]);
  assert.equal(first[0], 1);
  assert.ok(Math.abs(first[1]! - want[0]!) < 1e-5 && Math.abs(first[2]! - want[1]!) < 1e-5);
  const rej = readJsonl(rejects);
  assert.match(String(rej[0]!.reason), /element 0 is "bad"/);
  assert.match(String(rej[1]!.reason), /row has 3 columns, the header has 4/);
});

test("a row that fails inside the model is rejected without sinking its batch", async () => {
  const model = { name: "g", version: "1", path: writeModel(gatherModel([10, 20, 30]), dir, "gather.onnx") };
  const input = join(dir, "idx.jsonl");
  writeFileSync(input, [0, 1, 9, 2].map((i, n) => JSON.stringify({ id: n, indices: i })).join("\n"));
  const output = join(dir, "idx-out.jsonl");
  const rejects = join(dir, "idx-rej.jsonl");
  const s = await runBatch(options({ model, input, output, rejects, batchSize: 8 }));
  assert.equal(s.predicted, 3);
  assert.deepEqual(
    readJsonl(output).map((o) => [o.id, o.y]),
    [
      [0, 10],
      [1, 20],
      [3, 30],
    ],
  );
  const rej = readJsonl(rejects);
  assert.equal(rej.length, 1);
  assert.equal(rej[0]!.line, 3);
  assert.match(String(rej[0]!.reason), /model rejected the row: .*Gather/);
});

test("a model with a scalar input takes it from each row, without a row dimension", async () => {
  const model = { name: "s", version: "1", path: writeModel(scaleModel({ width: 2 }), dir, "scale.onnx") };
  const input = join(dir, "scale.jsonl");
  writeFileSync(
    input,
    [
      { id: "a", x: [1, 2], scale: 3 },
      { id: "b", x: [0.5, -1], scale: 2 },
    ]
      .map((r) => JSON.stringify(r))
      .join("\n"),
  );
  const output = join(dir, "scale-out.jsonl");
  const s = await runBatch(options({ model, input, output, batchSize: 8 }));
  assert.equal(s.predicted, 2);
  assert.deepEqual(readJsonl(output), [
    { id: "a", y: [3, 6] },
    { id: "b", y: [1, -2] },
  ]);
});

test("streams a larger file in batches and the CLI reports rows/s", () => {
  const input = join(dir, "many.jsonl");
  const rand = seededRandom(8);
  const text: string[] = [];
  for (let i = 0; i < 20_000; i++) text.push(JSON.stringify({ id: i, input: [rand(), rand(), rand()] }));
  writeFileSync(input, text.join("\n"));
  const output = join(dir, "many-out.jsonl");
  const r = spawnSync(
    process.execPath,
    [
      "--import",
      "tsx",
      "bin/dev.ts",
      "batch",
      "--model",
      `m=${mlpPath}`,
      "--input",
      input,
      "--output",
      output,
      "--batch-size",
      "512",
    ],
    { encoding: "utf8", timeout: 120_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^rows 20000 predicted 20000 rejected 0 in [\d.]+ s \(\d+ rows\/s\)$/m);
  const out = readFileSync(output, "utf8").trim().split("\n");
  assert.equal(out.length, 20_000);
  assert.equal((JSON.parse(out[19_999]!) as { id: number }).id, 19_999);
  const bad = spawnSync(process.execPath, ["--import", "tsx", "bin/dev.ts", "batch", "--model", "nopath"], {
    encoding: "utf8",
  });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /NAME=PATH/);
  const missing = spawnSync(
    process.execPath,
    [
      "--import",
      "tsx",
      "bin/dev.ts",
      "batch",
      "--model",
      `m=${mlpPath}`,
      "--input",
      join(dir, "none.jsonl"),
      "--output",
      join(dir, "x.jsonl"),
    ],
    { encoding: "utf8" },
  );
  assert.equal(missing.status, 1);
  assert.ok(!existsSync(join(dir, "x.jsonl")));
});
