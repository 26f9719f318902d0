import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { createLogger } from "../platform/log.js";
import { exportEvents, startCli, startCollectorCli, tmp, type Cli } from "../testing/procs.js";
import { exportUrl, openUrl } from "../drift/sources.js";
import { checkBearer, TokenFile } from "./auth.js";
import { ndjson, postEvents, testEvent } from "./testing/events.js";

const log = createLogger({ name: "test", level: "silent" });
const digest = (s: string) => createHash("sha256").update(s).digest();
const clis: Cli[] = [];
after(async () => {
  for (const c of clis) await c.stop();
});

test("Authorization: Bearer is checked against every accepted token", () => {
  const accepted = [digest("s3cret"), digest("older")];
  assert.equal(checkBearer("Bearer s3cret", accepted), "ok");
  assert.equal(checkBearer("bearer older", accepted), "ok");
  assert.equal(checkBearer("Bearer s3cre", accepted), "invalid");
  assert.equal(checkBearer("Bearer s3cret2", accepted), "invalid");
  assert.equal(checkBearer(undefined, accepted), "missing");
  assert.equal(checkBearer("Basic czNjcmV0", accepted), "missing");
  assert.equal(checkBearer("Bearer ", accepted), "missing");
  assert.equal(checkBearer("Bearer s3cret", []), "invalid");
});

test("a token file is re-read while running; an unreadable one keeps the tokens it had", async () => {
  const dir = tmp("tokens");
  const file = join(dir, "token");
  writeFileSync(file, "first\n");
  const tokens = await TokenFile.open(file, log, 20);
  try {
    assert.equal(tokens.check("Bearer first"), "ok");
    writeFileSync(file, "second\n");
    await waitUntil(() => tokens.check("Bearer second") === "ok");
    assert.equal(tokens.check("Bearer first"), "invalid");
    rmSync(file);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(tokens.check("Bearer second"), "ok");
    writeFileSync(file, "\n");
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(tokens.check("Bearer second"), "ok", "an empty file is not a reason to lock clients out");
  } finally {
    tokens.close();
  }
  await assert.rejects(TokenFile.open(join(dir, "nope"), log), /--token-file .*nope: ENOENT/);
  writeFileSync(file, "# nothing\n");
  await assert.rejects(TokenFile.open(file, log), /holds no token/);
});

async function waitUntil(check: () => boolean): Promise<void> {
  const end = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}

test("Given --token-file, Then every API route needs the bearer token and the probes and /metrics do not", async () => {
  const dir = tmp("tokens");
  writeFileSync(join(dir, "token"), "s3cret\n");
  const { cli, url } = await startCollectorCli(tmp("auth"), 0, ["--token-file", join(dir, "token")]);
  clis.push(cli);
  const batch = ndjson([testEvent("t1", new Date())]);

  const none = await postEvents(url, batch);
  assert.equal(none.status, 401);
  assert.equal(none.headers.get("www-authenticate"), 'Bearer realm="modelship-collector"');
  assert.match(String(none.body.error), /missing bearer token: send Authorization: Bearer <token>/);
  const wrong = await postEvents(url, batch, "guess");
  assert.equal(wrong.status, 401);
  assert.match(String(wrong.body.error), /invalid bearer token/);
  // refused before its body is read: a big anonymous body costs nothing
  assert.equal((await postEvents(url, Buffer.alloc(8 * 1024 * 1024, 0x20))).status, 401);

  for (const path of ["/v1/events?model=fraud", "/v1/models", "/v1/reports/fraud", "/nope"])
    assert.equal((await fetch(`${url}${path}`)).status, 401, path);
  for (const path of ["/healthz", "/readyz", "/metrics"])
    assert.equal((await fetch(`${url}${path}`)).status, 200, path);

  const ok = await postEvents(url, batch, "s3cret");
  assert.equal(ok.status, 200);
  assert.equal(ok.body.accepted, 1);
  const read = await fetch(`${url}/v1/events?model=fraud`, { headers: { authorization: "Bearer s3cret" } });
  assert.equal(read.status, 200);
  assert.match(await read.text(), /"id":"t1"/);
  await assert.rejects(exportEvents(url, "fraud"), /export answered 401/);

  // the drift job's read of the export sends the token too
  const exported = exportUrl(url, "fraud", { since: new Date(0), until: new Date(Date.now() + 60_000) });
  let text = "";
  for await (const chunk of await openUrl(exported, undefined, "s3cret")) text += chunk.toString();
  assert.match(text, /"id":"t1"/);
  await assert.rejects(openUrl(exported), /answered 401: .*missing bearer token/);
});

test("Given a --token-file that cannot be read, Then the collector does not start", async () => {
  const cli = startCli(["collector", "--data-dir", tmp("auth"), "--token-file", "/nonexistent/token"]);
  clis.push(cli);
  assert.equal(await cli.exited, 1);
  assert.ok(cli.logs.some((l) => l.msg === "Failed to read API tokens"));
});
