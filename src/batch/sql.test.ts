import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../testing/onnx/builders.js";
import { connectionFromDir } from "./connection.js";
import { describeSqlError, isPermanentSqlError, PermanentError, sqlFailure } from "./errors.js";
import {
  columnType,
  insertPredictionsSql,
  outputLayout,
  parseTableName,
  qualified,
  PROBE_PREFIX,
  probeQuery,
  quoteIdent,
  shardPredicate,
  shardQuery,
  stagingTables,
  stripQuery,
} from "./sql.js";

test("identifiers are double-quoted with their quotes doubled, and PostgreSQL's limits are enforced", () => {
  const table: [string, string][] = [
    ["id", '"id"'],
    ["Id", '"Id"'],
    ['a"b', '"a""b"'],
    ['"; DROP TABLE x; --', '"""; DROP TABLE x; --"'],
    ["dense_1/Softmax:0", '"dense_1/Softmax:0"'],
    ["sélection", '"sélection"'],
  ];
  for (const [name, want] of table) assert.equal(quoteIdent(name), want);
  assert.throws(() => quoteIdent(""), /cannot be empty/);
  assert.throws(() => quoteIdent("a\0b"), /NUL/);
  assert.throws(() => quoteIdent("x".repeat(64)), /longer than PostgreSQL's 63 bytes/);
  // 63 bytes is the limit in bytes, not characters
  assert.throws(() => quoteIdent("é".repeat(32)), /63 bytes/);
  assert.equal(quoteIdent("x".repeat(63)).length, 65);
});

test("table names: TABLE or SCHEMA.TABLE, lower-case, room for the _rejects suffix", () => {
  assert.deepEqual(parseTableName("scores"), { name: "scores" });
  assert.deepEqual(parseTableName("analytics.fraud_scores"), { schema: "analytics", name: "fraud_scores" });
  assert.equal(qualified(parseTableName("analytics.s"), "_rejects"), '"analytics"."s_rejects"');
  for (const bad of ["Scores", "a.b.c", "1abc", "a-b", "s; DROP TABLE x", "x".repeat(56), ""])
    assert.throws(() => parseTableName(bad), /TABLE or SCHEMA\.TABLE/, bad);
  assert.doesNotThrow(() => parseTableName("x".repeat(55)));
});

test("each model output is a column of its type; a row of a [batch, k] output is an array", () => {
  const table: [string, number[], string][] = [
    ["float32", [-1, 3], "real[]"],
    ["float32", [-1], "real"],
    ["int64", [-1], "bigint"],
    ["float64", [-1, 2, 2], "double precision[]"],
    ["string", [-1], "text"],
    ["bool", [-1, 1], "boolean[]"],
    ["uint64", [-1], "numeric"],
    ["int8", [], "smallint"],
  ];
  for (const [type, shape, want] of table)
    assert.equal(columnType({ name: "o", type: type as never, shape }), want, `${type} ${shape}`);
});

test("the input query is wrapped so a shard reads its rows, whatever the query ends with", () => {
  assert.equal(stripQuery("SELECT 1 ;; \n"), "SELECT 1");
  assert.throws(() => stripQuery(" ; "), /empty/);
  const q = shardQuery("SELECT * FROM t -- all of it\n;", "id", { index: 2, count: 4 });
  assert.equal(
    q,
    `SELECT modelship_input.*, (modelship_input."id")::text AS "__modelship_id" FROM (\nSELECT * FROM t -- all of it\n) AS modelship_input WHERE mod(('x' || substr(md5(coalesce((modelship_input."id")::text, '')), 1, 8))::bit(32)::bigint, 4) = 2`,
  );
  // one shard reads everything: no predicate
  assert.doesNotMatch(shardQuery("SELECT 1 AS id", "id", { index: 0, count: 1 }), /WHERE/);
  assert.match(shardPredicate('q."Id"', { index: 0, count: 2 }), /q\."Id"/);
  assert.equal(probeQuery("VALUES (1);"), `${PROBE_PREFIX}VALUES (1)`);
});

test("the prediction table's layout refuses a column that would appear twice", () => {
  const t = parseTableName("scores");
  const outputs = [
    { name: "probabilities", type: "float32" as const, shape: [-1, 3] },
    { name: "label", type: "int64" as const, shape: [-1] },
  ];
  const l = outputLayout(t, "id", "bigint", outputs);
  assert.deepEqual(l.columns, [
    { name: "probabilities", type: "real[]" },
    { name: "label", type: "bigint" },
  ]);
  assert.throws(() => outputLayout(t, "label", "bigint", outputs), /column "label" twice/);
  assert.throws(
    () => outputLayout(t, "id", "text", [{ name: "run_id", type: "float32", shape: [-1] }]),
    /column "run_id" twice/,
  );
  const sql = insertPredictionsSql(l, stagingTables(t, "r1"));
  assert.match(
    sql,
    /r\.i::bigint, r\.c0, r\.c1 FROM json_to_recordset\(\$2::json\) AS r\(o bigint, i text, c0 real\[\], c1 bigint\)/,
  );
});

test("staging tables are named by table and run: the same for every shard and retry, distinct per run", () => {
  const t = parseTableName("analytics.scores");
  const a = stagingTables(t, "fraud-batch-29000000");
  assert.deepEqual(a, stagingTables(t, "fraud-batch-29000000"));
  assert.notEqual(a.data.name, stagingTables(t, "fraud-batch-29000060").data.name);
  assert.notEqual(a.data.name, stagingTables(parseTableName("scores"), "fraud-batch-29000000").data.name);
  assert.equal(a.data.schema, "analytics");
  assert.match(a.data.name, /^modelship_batch_[0-9a-f]{16}$/);
  assert.match(a.lockKey, /^-?\d+$/);
});

test("a connection Secret folder: uri, or the keys CloudNativePG writes; sslmode maps onto node-postgres", () => {
  const dir = tempDir("modelship-conn-");
  const secret = (name: string, keys: Record<string, string>) => {
    const d = join(dir, name);
    mkdirSync(d);
    for (const [k, v] of Object.entries(keys)) writeFileSync(join(d, k), v);
    return d;
  };
  assert.deepEqual(connectionFromDir(undefined), {});
  assert.deepEqual(
    connectionFromDir(
      secret("cnpg", {
        host: "db-rw.payments.svc\n",
        port: "5432",
        dbname: "app",
        username: "app",
        password: "p@ss word\n",
        "jdbc-uri": "ignored",
      }),
    ),
    { host: "db-rw.payments.svc", port: 5432, database: "app", user: "app", password: "p@ss word" },
  );
  assert.deepEqual(connectionFromDir(secret("uri", { uri: "postgresql://u:p@h:5433/d" })), {
    connectionString: "postgresql://u:p@h:5433/d",
  });
  assert.deepEqual(connectionFromDir(secret("tls", { host: "h", sslmode: "require" })), {
    host: "h",
    ssl: { rejectUnauthorized: false },
  });
  assert.deepEqual(
    connectionFromDir(secret("verify", { host: "h", sslmode: "verify-full", "ca.crt": "PEM" })),
    {
      host: "h",
      ssl: { rejectUnauthorized: true, ca: "PEM" },
    },
  );
  assert.throws(
    () => connectionFromDir(secret("badport", { port: "54x" })),
    /key "port" must be a port number/,
  );
  assert.throws(() => connectionFromDir(secret("badssl", { sslmode: "on" })), /key "sslmode" must be/);
  rmSync(dir, { recursive: true, force: true });
});

test("database errors keep PostgreSQL's words, its SQLSTATE, and the position in the user's query", () => {
  const err = Object.assign(new Error('syntax error at or near "SELEC"'), {
    code: "42601",
    position: String(PROBE_PREFIX.length + 1),
  });
  assert.equal(
    describeSqlError(err, PROBE_PREFIX.length),
    'syntax error at or near "SELEC" (SQLSTATE 42601, at character 1 of the query)',
  );
  assert.ok(isPermanentSqlError(err));
  const f = sqlFailure("the input query (spec.batch.input.sql.query) failed", err, PROBE_PREFIX.length);
  assert.ok(f instanceof PermanentError);
  assert.match(f.message, /^the input query \(spec\.batch\.input\.sql\.query\) failed: syntax error/);
  // a server shutting down is worth a retry
  const shutdown = Object.assign(new Error("terminating connection due to administrator command"), {
    code: "57P01",
  });
  assert.ok(!isPermanentSqlError(shutdown));
  assert.ok(!(sqlFailure("x", shutdown) instanceof PermanentError));
  assert.ok(!isPermanentSqlError(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" })));
});
