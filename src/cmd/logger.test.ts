import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ["--import", "tsx", "bin/dev.ts", ...args], {
    encoding: "utf8",
    timeout: 60_000,
  });
  return { code: r.status, stderr: r.stderr, stdout: r.stdout };
}

test("logger and collector flags: bad input exits 2 with a message naming the flag", () => {
  const cases: [string[], RegExp][] = [
    [["logger"], /--model is required/],
    [
      ["logger", "--model", "m", "--variant", "blue"],
      /--variant must be one of stable, canary, shadow, preview/,
    ],
    [["logger", "--model", "m", "--sample-rate", "2"], /--sample-rate must be between 0 and 1/],
    [["logger", "--model", "m", "--features", '[{"name":"a","type":"float"}]'], /--features: 0.type/],
    [["logger", "--model", "m", "--redact", "ssn"], /--redact "ssn" is not a path/],
    [["logger", "--model", "m", "--listen", "nowhere"], /--listen must be HOST:PORT/],
    [["logger", "--model", "m", "--sink", "kafka://x"], /--sink "kafka:\/\/x" has an unknown scheme/],
    [["logger", "--model", "m", "--upstream", "localhost"], /--upstream must be/],
    [["logger", "--model", "m", "--upstream-readiness", "healthz"], /--upstream-readiness must be a path/],
    [["collector"], /--data-dir is required/],
  ];
  for (const [args, message] of cases) {
    const r = cli(...args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
});

test("logger --print-event-schema prints the JSON Schema", () => {
  const r = cli("logger", "--print-event-schema");
  assert.equal(r.code, 0);
  assert.equal((JSON.parse(r.stdout) as { title: string }).title, "modelship InferenceEvent v1");
});

test("logger --max-body-bytes: a larger request is refused with 413 before it reaches the model", async () => {
  const { startLoggerCli, tmp } = await import("../testing/procs.js");
  // The upstream is never reached: the body limit answers first.
  const { cli: proc, url } = await startLoggerCli([
    "--model",
    "m",
    "--upstream",
    "http://127.0.0.1:9",
    "--sink",
    "stdout:",
    "--spool-dir",
    tmp("maxbody"),
    "--max-body-bytes",
    "2048",
  ]);
  try {
    const small = await fetch(`${url}/v2/models/m/infer`, { method: "POST", body: "x".repeat(1000) });
    await small.text();
    assert.notEqual(small.status, 413);
    const big = await fetch(`${url}/v2/models/m/infer`, { method: "POST", body: "x".repeat(4096) });
    await big.text();
    assert.equal(big.status, 413);
  } finally {
    await proc.stop(2_000);
  }
  const bad = cli("logger", "--model", "m", "--max-body-bytes", "10");
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--max-body-bytes/);
});
