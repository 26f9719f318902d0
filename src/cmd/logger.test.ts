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
    [["logger", "--model", "m", "--sink", "amqp://x"], /--sink "amqp:\/\/x" has an unknown scheme/],
    [["logger", "--model", "m", "--sink", "kafka://x"], /--sink "kafka:\/\/x" is not kafka:\/\/host:port/],
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

test("logger on SIGTERM: drains the spool to the sink within --drain-timeout-ms; what is left is counted and logged", async () => {
  const { createServer } = await import("node:http");
  const { startLoggerCli, tmp } = await import("../testing/procs.js");
  const received: string[] = [];
  let accepting = false;
  const servers = [
    // the model: any JSON answer
    createServer((req, res) => {
      req.resume();
      req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end('{"outputs":[]}'));
    }),
    // the sink: refuses while accepting is false
    createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        if (!accepting) return res.writeHead(503).end();
        received.push(...body.split("\n").filter(Boolean));
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    }),
  ];
  const urls: string[] = [];
  for (const s of servers) {
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
    urls.push(`http://127.0.0.1:${(s.address() as { port: number }).port}`);
  }
  const run = async (drainMs: number) => {
    const { cli, url } = await startLoggerCli([
      "--model",
      "m",
      "--upstream",
      urls[0]!,
      "--sink",
      urls[1]!,
      "--spool-dir",
      tmp("drain"),
      "--drain-timeout-ms",
      String(drainMs),
    ]);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await fetch(`${url}/v2/models/m/infer`, {
        method: "POST",
        body: JSON.stringify({ inputs: [{ name: "x", datatype: "FP32", shape: [1], data: [i] }] }),
      });
      await r.text();
      ids.push(r.headers.get("x-modelship-event-id")!);
    }
    return { cli, ids };
  };
  try {
    // the sink refuses: after the deadline the 5 events stay on disk, counted in the log line
    const refused = await run(800);
    assert.equal(await refused.cli.stop(10_000), 0);
    const left = refused.cli.logs.find(
      (l) => l.msg === "Left events in spool, sink did not take them before the drain deadline",
    );
    assert.equal(left?.undrainedEvents, 5, JSON.stringify(refused.cli.logs.slice(-3)));

    // the sink takes them: every event ships before the process exits
    accepting = true;
    const ok = await run(5_000);
    assert.equal(await ok.cli.stop(10_000), 0);
    assert.ok(ok.cli.logs.some((l) => l.msg === "Drained event spool"));
    const shipped = new Set(received.map((l) => (JSON.parse(l) as { id: string }).id));
    for (const id of ok.ids) assert.ok(shipped.has(id), `event ${id} shipped before exit`);
  } finally {
    for (const s of servers) s.close();
  }
});
