import { after, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawn, spawnSync } from "node:child_process";
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
import { BatchError, runBatch, type BatchOptions } from "./run.js";

const dir = tempDir("modelship-batch-");
after(() => rmSync(dir, { recursive: true, force: true }));
const mlp = mlpModel({ layers: [3, 8, 2], seed: 4 });
const mlpPath = writeModel(mlp, dir, "mlp.onnx");

function options(
  extra: Partial<Omit<BatchOptions, "input" | "output">> & {
    input: string;
    output: string;
    rejects?: string;
  },
): BatchOptions {
  const { input, output, rejects, ...rest } = extra;
  return {
    model: { name: "m", version: "1", path: mlpPath },
    input: { file: input },
    output: { file: output, ...(rejects !== undefined ? { rejects } : {}) },
    idField: "id",
    batchSize: 4,
    workers: 1,
    intraOpThreads: 1,
    runId: "test",
    shard: { index: 0, count: 1 },
    finalAttempt: true,
    pvcRoot: "/nonexistent",
    env: {},
    log: createLogger({ name: "batch", level: "silent" }),
    ...rest,
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

/** A file of `n` rows with every `badEvery`-th row malformed, in JSONL or CSV. */
function rowsFile(name: string, n: number, format: "jsonl" | "csv", badEvery = 0): string {
  const rand = seededRandom(n);
  const lines = format === "csv" ? ["id,a,b,c"] : [];
  for (let i = 0; i < n; i++) {
    const f = [rand(), rand(), rand()];
    const bad = badEvery > 0 && i % badEvery === badEvery - 1;
    if (format === "csv") lines.push(bad ? `r${i},x,1,2` : `r${i},${f.join(",")}`);
    else lines.push(bad ? `{"id":"r${i}","input":[1,2]}` : JSON.stringify({ id: `r${i}`, input: f }));
    if (i % 97 === 0) lines.push(""); // blank lines are no rows
  }
  const p = join(dir, name);
  writeFileSync(p, lines.join("\n") + "\n");
  return p;
}

for (const format of ["jsonl", "csv"] as const) {
  test(`${format}: shards finishing in any order put together exactly what one process writes`, async () => {
    const input = rowsFile(`sharded.${format}`, 1000, format, 37);
    const one = join(dir, `one.${format}`);
    const s1 = await runBatch(options({ input, output: one, batchSize: 16, runId: "one" }));
    assert.equal(s1.run?.outcome, "Succeeded");
    for (const count of [2, 3, 5]) {
      const out = join(dir, `sharded-${count}.${format}`);
      const parts = [];
      // the last shard first, then the others: order of finishing must not matter
      for (const index of [count - 1, ...Array.from({ length: count - 1 }, (_, i) => i)]) {
        parts.push(
          await runBatch(
            options({ input, output: out, batchSize: 16, runId: `s${count}`, shard: { index, count } }),
          ),
        );
      }
      assert.deepEqual(
        parts.map((p) => p.run !== undefined),
        [...Array.from({ length: count - 1 }, () => false), true],
        "only the last shard to finish finalises the run",
      );
      assert.equal(readFileSync(out, "utf8"), readFileSync(one, "utf8"), `${count} shards: the same output`);
      const rejects = (p: string) => readFileSync(p.replace(/\.(jsonl|csv)$/, ".rejects.jsonl"), "utf8");
      assert.equal(rejects(out), rejects(one), `${count} shards: the same rejects, in line order`);
      const run = parts.at(-1)!.run!;
      assert.deepEqual([run.rows, run.predicted, run.rejected], [s1.rows, s1.predicted, s1.rejected]);
      const summary = JSON.parse(readFileSync(out.replace(/\.(jsonl|csv)$/, ".summary.json"), "utf8"));
      assert.equal(summary.runId, `s${count}`);
      assert.equal(summary.shards, count);
      assert.equal(summary.predicted, s1.predicted);
    }
    assert.equal(s1.rejected, 27);
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.includes(".parts") || f.includes(".tmp-")),
      [],
      "no parts or temp files left",
    );
  });
}

test("a shard that fails for good fails the run: the earlier output stays as it was, the reason is in the summary", async () => {
  const input = rowsFile("fails.jsonl", 100, "jsonl");
  const out = join(dir, "fails-out.jsonl");
  writeFileSync(out, "earlier run\n");
  const ok = await runBatch(options({ input, output: out, runId: "f1", shard: { index: 0, count: 2 } }));
  assert.equal(ok.run, undefined);
  // shard 1 cannot read its input: with retries left, nothing is recorded; on its last attempt it is
  const missing = join(dir, "missing.jsonl");
  const attempt = (finalAttempt: boolean) =>
    runBatch(
      options({ input: missing, output: out, runId: "f1", shard: { index: 1, count: 2 }, finalAttempt }),
    );
  await assert.rejects(
    attempt(false),
    (e: BatchError) => !e.final && e.run === undefined && /ENOENT/.test(e.message),
  );
  await assert.rejects(attempt(true), (e: BatchError) => {
    assert.ok(e.final && !e.permanent);
    assert.equal(e.run?.outcome, "Failed");
    assert.match(e.run?.message ?? "", /^shard 1 of 2: ENOENT/);
    assert.equal(e.run?.rows, ok.rows, "the rows the shards read before the run failed");
    return true;
  });
  assert.equal(readFileSync(out, "utf8"), "earlier run\n");
  assert.ok(!existsSync(join(dir, ".fails-out.jsonl.parts")), "the failed run's parts are gone");
});

test("the CLI: shards as processes side by side, one run id, one merged output", () => {
  const input = rowsFile("cli-shards.jsonl", 3000, "jsonl", 101);
  const one = join(dir, "cli-one.jsonl");
  const out = join(dir, "cli-sharded.jsonl");
  const cli = (extra: string[]) => [
    "--import",
    "tsx",
    "bin/dev.ts",
    "batch",
    "--model",
    `m=${mlpPath}`,
    "--input",
    input,
    "--batch-size",
    "64",
    ...extra,
  ];
  const single = spawnSync(process.execPath, cli(["--output", one]), { encoding: "utf8", timeout: 120_000 });
  assert.equal(single.status, 0, single.stderr);
  const procs = [0, 1, 2].map((i) =>
    spawn(
      process.execPath,
      cli(["--output", `file://${out}`, "--run-id", "c1", "--shards", "3", "--shard-index", String(i)]),
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    ),
  );
  return Promise.all(
    procs.map(
      (p) =>
        new Promise<string>((resolve, reject) => {
          let stdout = "";
          let stderr = "";
          p.stdout.on("data", (d) => (stdout += d));
          p.stderr.on("data", (d) => (stderr += d));
          p.on("exit", (code) =>
            code === 0 ? resolve(stdout) : reject(new Error(`exit ${code}: ${stderr}`)),
          );
        }),
    ),
  ).then((outputs) => {
    const finals = outputs.filter((o) =>
      /^run c1: Succeeded, rows 3000 predicted 2971 rejected 29 over 3 shard\(s\)/m.test(o),
    );
    assert.ok(finals.length >= 1, outputs.join("\n"));
    assert.equal(readFileSync(out, "utf8"), readFileSync(one, "utf8"));
  });
});
