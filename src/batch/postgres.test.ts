// SQL batch prediction against a real PostgreSQL (scripts/postgres.sh) and a real onnxruntime model:
// rows from a query, predictions into a table, shards, idempotent runs, and failures that leave no
// partial table.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createLogger } from "../platform/log.js";
import { tempDir, writeModel } from "../testing/onnx/builders.js";
import { irisModel, irisReference } from "../testing/onnx/iris.js";
import { BatchError, runBatch, type BatchOptions, type InputSpec, type OutputSpec } from "./run.js";
import { shardOfId } from "./shard.js";
import { stagingTables, parseTableName } from "./sql.js";
import { postgresMissing, startPostgres, type Postgres } from "./testing/postgres.js";

const missing = postgresMissing();
const dir = tempDir("modelship-batch-pg-");
after(() => rmSync(dir, { recursive: true, force: true }));
const modelPath = writeModel(irisModel(), dir, "iris.onnx");
let db: Postgres;
const ROWS = 2000;

/** Flower i: deterministic measurements spread over the three species. */
function flower(i: number): number[] {
  const base = [
    [5.0, 3.4, 1.5, 0.2],
    [5.9, 2.8, 4.3, 1.3],
    [6.6, 3.0, 5.5, 2.0],
  ][i % 3]!;
  return base.map((v, f) => Math.round((v + (((i * 7 + f * 3) % 11) - 5) * 0.05) * 10) / 10);
}

function options(input: InputSpec, output: OutputSpec, extra: Partial<BatchOptions> = {}): BatchOptions {
  return {
    model: { name: "iris", version: "1", path: modelPath },
    input,
    output,
    idField: "id",
    batchSize: 64,
    workers: 1,
    intraOpThreads: 1,
    runId: "r1",
    shard: { index: 0, count: 1 },
    finalAttempt: true,
    pvcRoot: "/nonexistent",
    env: {},
    log: createLogger({ name: "batch", level: "silent" }),
    ...extra,
  };
}

const sqlIn = (query: string, config = db.config): InputSpec => ({ sql: { query, connection: config } });
const sqlOut = (table: string, config = db.config): OutputSpec => ({ sql: { table, connection: config } });
const FLOWERS = "SELECT id, sepal_length, sepal_width, petal_length, petal_width FROM flowers";

async function tables(): Promise<string[]> {
  const rows = await db.query<{ t: string }>(
    "SELECT schemaname || '.' || tablename AS t FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1",
  );
  return rows.map((r) => r.t);
}

async function failure(p: Promise<unknown>): Promise<BatchError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof BatchError, `a BatchError, got ${String(err)}`);
    return err;
  }
  assert.fail("the run should have failed");
}

describe("SQL batch prediction on PostgreSQL", { skip: missing }, () => {
  before(async () => {
    db = await startPostgres();
    await db.query(
      "CREATE TABLE flowers (id bigint, sepal_length real, sepal_width real, petal_length real, petal_width real)",
    );
    const values = Array.from({ length: ROWS }, (_, i) => [i + 1, ...flower(i + 1)]);
    await db.query(
      "INSERT INTO flowers SELECT * FROM json_to_recordset($1::json) AS r(id bigint, a real, b real, c real, d real)",
      [JSON.stringify(values.map(([id, a, b, c, d]) => ({ id, a, b, c, d })))],
    );
    // two rows that cannot be predicted: a missing measurement, a missing id
    await db.query("INSERT INTO flowers VALUES (9001, 5.1, NULL, 1.4, 0.2), (NULL, 5.1, 3.5, 1.4, 0.2)");
  });
  after(async () => {
    await db?.stop();
  });

  test("rows from a query are predicted into a new table, rejects beside it, the run in TABLE_runs", async () => {
    const s = await runBatch(options(sqlIn(FLOWERS), sqlOut("scores")));
    assert.equal(s.rows, ROWS + 2);
    assert.equal(s.predicted, ROWS);
    assert.equal(s.rejected, 2);
    assert.equal(s.run?.outcome, "Succeeded");
    assert.deepEqual([s.run?.output, s.run?.rejects], ["scores", "scores_rejects"]);
    const cols = await db.query<{ column_name: string; data_type: string }>(
      "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'scores' ORDER BY ordinal_position",
    );
    assert.deepEqual(
      cols.map((c) => [c.column_name, c.data_type]),
      [
        ["run_id", "text"],
        ["id", "bigint"],
        ["probabilities", "ARRAY"],
        ["label", "bigint"],
      ],
    );
    const rows = await db.query<{ id: string; probabilities: number[]; label: string }>(
      "SELECT id, probabilities, label FROM scores WHERE run_id = 'r1' ORDER BY id",
    );
    assert.equal(rows.length, ROWS);
    for (const r of rows) {
      const want = irisReference(flower(Number(r.id)).map(Math.fround));
      assert.equal(Number(r.label), want.label, `flower ${r.id}`);
      r.probabilities.forEach((p, k) => assert.ok(Math.abs(p - want.probabilities[k]!) < 1e-5));
    }
    const rejects = await db.query<{ line: string; id: string | null; reason: string; input: string }>(
      "SELECT line, id, reason, input FROM scores_rejects WHERE run_id = 'r1' ORDER BY line",
    );
    assert.deepEqual(
      rejects.map((r) => r.id),
      ["9001", null],
    );
    assert.match(rejects[0]!.reason, /input "input": element 1 is null, expected a number/);
    assert.equal(JSON.parse(rejects[0]!.input).sepal_length, 5.1);
    assert.match(rejects[1]!.reason, /the id column "id" is null/);
    const runs = await db.query("SELECT run_id, outcome, shards, rows, predicted, rejected FROM scores_runs");
    assert.deepEqual(runs, [
      {
        run_id: "r1",
        outcome: "Succeeded",
        shards: 1,
        rows: String(ROWS + 2),
        predicted: String(ROWS),
        rejected: "2",
      },
    ]);
    assert.deepEqual(await tables(), [
      "public.flowers",
      "public.scores",
      "public.scores_rejects",
      "public.scores_runs",
    ]);
  });

  test("running the same run again replaces its rows; another run adds its own", async () => {
    const count = async (run: string) =>
      Number(
        (await db.query<{ n: string }>("SELECT count(*) AS n FROM scores WHERE run_id = $1", [run]))[0]!.n,
      );
    await runBatch(options(sqlIn(FLOWERS), sqlOut("scores")));
    assert.equal(await count("r1"), ROWS);
    await runBatch(options(sqlIn(`${FLOWERS} WHERE id <= 10`), sqlOut("scores")));
    assert.equal(await count("r1"), 10, "the repeated run replaced all of its rows");
    await runBatch(options(sqlIn(`${FLOWERS} WHERE id <= 5`), sqlOut("scores"), { runId: "r2" }));
    assert.equal(await count("r1"), 10);
    assert.equal(await count("r2"), 5);
    const rejects = await db.query("SELECT run_id FROM scores_rejects");
    assert.equal(rejects.length, 0, "the runs above had no rejects: r1's earlier ones are gone");
  });

  test("shards split the rows by id, and the table shows the run only once every shard is done", async () => {
    const table = parseTableName("sharded");
    const staging = stagingTables(table, "s1");
    const shard = (index: number) =>
      runBatch(options(sqlIn(FLOWERS), sqlOut("sharded"), { runId: "s1", shard: { index, count: 3 } }));
    const first = await shard(1);
    assert.equal(first.run, undefined, "shard 1 alone does not finish the run");
    const staged = await db.query<{ id: string }>(`SELECT id FROM ${staging.data.name}`);
    assert.equal(staged.length, first.predicted);
    for (const r of staged) assert.equal(shardOfId(r.id, 3), 1, `id ${r.id} belongs to shard 1`);
    assert.ok(!(await tables()).includes("public.sharded"), "nothing in the target yet");
    // the other two side by side, as their pods would run
    const [a, b] = await Promise.all([shard(0), shard(2)]);
    const run = a.run ?? b.run;
    assert.ok(run, "the last shard finalised the run");
    assert.equal(run.rows, ROWS + 2);
    assert.equal(run.predicted, ROWS);
    assert.equal(run.rejected, 2);
    assert.equal(first.rows + a.rows + b.rows, ROWS + 2);
    const ids = await db.query<{ n: string; d: string }>(
      "SELECT count(*) AS n, count(DISTINCT id) AS d FROM sharded WHERE run_id = 's1'",
    );
    assert.deepEqual(ids, [{ n: String(ROWS), d: String(ROWS) }], "every id exactly once");
    assert.ok(!(await tables()).some((t) => t.includes("modelship_batch_")), "no staging table left");
  });

  test("bad SQL: a clear error naming the field, no retry, and no table at all", async () => {
    const before = await tables();
    const e = await failure(runBatch(options(sqlIn("SELEC id FROM flowers"), sqlOut("never"))));
    assert.ok(e.permanent && e.final);
    assert.match(
      e.message,
      /^the input query \(spec\.batch\.input\.sql\.query\) failed: syntax error at or near "SELEC" \(SQLSTATE 42601, at character 1 of the query\)$/,
    );
    const e2 = await failure(runBatch(options(sqlIn("SELECT id FROM flowerz"), sqlOut("never"))));
    assert.match(
      e2.message,
      /relation "flowerz" does not exist \(SQLSTATE 42P01, at character 16 of the query\)/,
    );
    const e3 = await failure(runBatch(options(sqlIn("SELECT 1 AS x"), sqlOut("never"))));
    assert.match(e3.message, /returns no column "id" \(spec\.batch\.input\.sql\.idColumn\); its columns: x/);
    // a query may not write
    const e4 = await failure(runBatch(options(sqlIn("DELETE FROM flowers RETURNING *"), sqlOut("never"))));
    assert.match(e4.message, /spec\.batch\.input\.sql\.query/);
    assert.deepEqual(await tables(), before);
  });

  test("a bad connection: where it tried, which field, and whether a retry can help", async () => {
    const refused = await failure(
      runBatch(options(sqlIn(FLOWERS, { ...db.config, port: 1 }), sqlOut("never"))),
    );
    assert.ok(!refused.permanent, "a server that is not there (yet) is worth a retry");
    assert.match(
      refused.message,
      /^cannot connect to the database modelship@127\.0\.0\.1:1\/modelship \(spec\.batch\.input\.sql\.connectionSecret\): .*ECONNREFUSED/,
    );
    const badPassword = await failure(
      runBatch(options(sqlIn(FLOWERS, { ...db.config, password: "wrong" }), sqlOut("never"))),
    );
    assert.ok(badPassword.permanent);
    assert.match(
      badPassword.message,
      /password authentication failed for user "modelship" \(SQLSTATE 28P01\)/,
    );
    const badOutput = await failure(
      runBatch(options(sqlIn(FLOWERS), sqlOut("never", { ...db.config, database: "nope" }))),
    );
    assert.match(
      badOutput.message,
      /spec\.batch\.output\.sql\.connectionSecret .*database "nope" does not exist/,
    );
    assert.ok(!(await tables()).some((t) => t.includes("never") || t.includes("modelship_batch_")));
  });

  test("a query that fails half-way leaves the table as it was: no partial run, no staging", async () => {
    const rowsBefore = await db.query("SELECT run_id, count(*) FROM scores GROUP BY run_id ORDER BY run_id");
    // seq scan order: the error comes with the third FETCH, after two batches were staged
    const e = await failure(
      runBatch(
        options(sqlIn(`${FLOWERS} WHERE 1 / (id - 1500) IS NOT NULL`), sqlOut("scores"), { runId: "r9" }),
      ),
    );
    assert.ok(e.permanent, "the same data divides by zero on every retry");
    assert.match(
      e.message,
      /^the input query \(spec\.batch\.input\.sql\.query\) failed while reading: division by zero \(SQLSTATE 22012\)$/,
    );
    assert.equal(e.run?.outcome, "Failed", "its failure completed the (one-shard) run");
    assert.match(e.run?.message ?? "", /^shard 0 of 1: .*division by zero/);
    assert.deepEqual(
      await db.query("SELECT run_id, count(*) FROM scores GROUP BY run_id ORDER BY run_id"),
      rowsBefore,
    );
    assert.ok(!(await tables()).some((t) => t.includes("modelship_batch_")));
  });

  test("a connection lost half-way is retried: the retry replaces the shard's rows, nothing is doubled", async () => {
    // the input's session sleeps on row 1500 (after two batches were staged) until the test kills it
    const query = `${FLOWERS} WHERE CASE WHEN id = 1500 THEN pg_sleep(30) IS NOT NULL ELSE true END`;
    // the failure handler is attached now: the run may reject before the kill's own query returns
    const failed = failure(
      runBatch(options(sqlIn(query), sqlOut("retried"), { runId: "t1", finalAttempt: false })),
    );
    for (let i = 0; ; i++) {
      const killed = await db.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND query LIKE 'FETCH%'",
      );
      if (killed.length > 0) break;
      assert.ok(i < 300, "the query never reached row 1500");
      await new Promise((r) => setTimeout(r, 100));
    }
    const e = await failed;
    assert.ok(!e.permanent && !e.final, e.message);
    assert.match(e.message, /terminating connection due to administrator command \(SQLSTATE 57P01\)/);
    assert.equal(e.run, undefined);
    const staged = stagingTables(parseTableName("retried"), "t1");
    assert.deepEqual(
      await db.query(`SELECT count(*)::int AS n FROM ${staged.data.name}`),
      [{ n: 0 }],
      "the lost attempt's rows were rolled back; its staging tables wait for the retry",
    );
    assert.ok(!(await tables()).includes("public.retried"));
    const retry = await runBatch(options(sqlIn(FLOWERS), sqlOut("retried"), { runId: "t1" }));
    assert.equal(retry.run?.predicted, ROWS);
    assert.deepEqual(await db.query("SELECT count(*)::int AS n FROM retried"), [{ n: ROWS }]);
    assert.ok(!(await tables()).some((t) => t.includes("modelship_batch_")));
  });

  test("a table that exists with other columns: the error names spec.batch.output.sql.table", async () => {
    await db.query("CREATE TABLE other (run_id text, id bigint, score real)");
    const e = await failure(runBatch(options(sqlIn(FLOWERS), sqlOut("other"), { runId: "o1" })));
    assert.ok(e.permanent);
    assert.match(
      e.message,
      /^cannot move the run into spec\.batch\.output\.sql\.table "other": column "probabilities" of relation "other" does not exist/,
    );
    assert.deepEqual(await db.query("SELECT count(*)::int AS n FROM other"), [{ n: 0 }]);
    assert.ok(!(await tables()).some((t) => t.includes("modelship_batch_") || t === "public.other_runs"));
  });

  test("files and tables mix: a CSV file into a table with text ids, a query into a JSONL file", async () => {
    const csv = join(dir, "flowers.csv");
    writeFileSync(
      csv,
      "id,a,b,c,d\n" + [1, 2, 3].map((i) => [`f${i}`, ...flower(i)].join(",")).join("\n") + "\n",
    );
    const s = await runBatch(options({ file: csv }, sqlOut("from_file"), { runId: "f1" }));
    assert.equal(s.predicted, 3);
    const rows = await db.query<{ id: string; label: string }>("SELECT id, label FROM from_file ORDER BY id");
    assert.deepEqual(
      rows.map((r) => [r.id, Number(r.label)]),
      [1, 2, 3].map((i) => [`f${i}`, irisReference(flower(i).map(Math.fround)).label]),
    );
    const out = join(dir, "from-sql", "scores.jsonl");
    mkdirSync(join(dir, "from-sql"));
    const t = await runBatch(options(sqlIn(`${FLOWERS} WHERE id <= 3 OR id = 9001`), { file: out }));
    assert.equal(t.run?.output, out);
    const lines = readFileSync(out, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.equal(lines.length, 3);
    assert.deepEqual(Object.keys(lines[0]), ["id", "probabilities", "label"]);
    const rej = readFileSync(join(dir, "from-sql", "scores.rejects.jsonl"), "utf8")
      .trim()
      .split("\n");
    assert.equal(rej.length, 1);
    assert.equal(JSON.parse(rej[0]!).id, "9001");
  });

  test("the CLI: a Secret folder for the connection, exit 3 and the field's name for bad SQL", () => {
    const secret = join(dir, "secret");
    mkdirSync(secret);
    for (const [k, v] of Object.entries({
      host: db.host,
      port: String(db.port),
      dbname: db.database,
      username: db.user,
      password: db.password + "\n",
    }))
      writeFileSync(join(secret, k), v);
    const cli = (...args: string[]) =>
      spawnSync(
        process.execPath,
        [
          "--import",
          "tsx",
          "bin/dev.ts",
          "batch",
          "--model",
          `iris=${modelPath}`,
          "--input-connection",
          secret,
          ...args,
        ],
        { encoding: "utf8", timeout: 120_000, env: { ...process.env, PGHOST: "", PGPASSWORD: "" } },
      );
    const ok = cli(
      "--input-sql",
      `${FLOWERS} WHERE id <= 100`,
      "--output-table",
      "cli_scores",
      "--run-id",
      "c1",
    );
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /^rows 100 predicted 100 rejected 0 in /m);
    assert.match(
      ok.stdout,
      /^run c1: Succeeded, rows 100 predicted 100 rejected 0 over 1 shard\(s\); output cli_scores, rejects cli_scores_rejects$/m,
    );
    const bad = cli("--input-sql", "SELECT * FROM nowhere", "--output-table", "cli_scores");
    assert.equal(bad.status, 3, bad.stderr);
    assert.match(
      bad.stderr,
      /modelship batch: failed: the input query \(spec\.batch\.input\.sql\.query\) failed: relation "nowhere" does not exist/,
    );
    const both = cli("--input", "x.jsonl", "--input-sql", "SELECT 1", "--output-table", "t");
    assert.equal(both.status, 2);
    assert.match(both.stderr, /give exactly one of --input and --input-sql/);
  });
});
