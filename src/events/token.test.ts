import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { tmp } from "../testing/procs.js";
import { parseTokens, readTokenFile } from "./token.js";

test("a token file holds one token a line; blank lines and comments are skipped", () => {
  assert.deepEqual(parseTokens("# rotated 2026-12-01\nnew-token\n\n  old-token  \r\n"), [
    "new-token",
    "old-token",
  ]);
});

test("a client sends the file's first token; a missing or empty file is named", async () => {
  const dir = tmp("token");
  writeFileSync(join(dir, "t"), "\nnew\nold\n");
  assert.equal(await readTokenFile(join(dir, "t")), "new");
  writeFileSync(join(dir, "e"), "# none yet\n");
  await assert.rejects(readTokenFile(join(dir, "e")), /token file .*\/e holds no token/);
  await assert.rejects(readTokenFile(join(dir, "missing")), /cannot read token file .*missing: ENOENT/);
});
