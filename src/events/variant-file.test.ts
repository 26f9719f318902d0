import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { createLogger } from "../platform/log.js";
import { tmp } from "../testing/procs.js";
import { VariantFile } from "./variant-file.js";

const log = createLogger({ name: "test", level: "silent" });

test("the variant file: read as it changes; --variant while it is missing or holds no variant", async () => {
  const file = join(tmp("variant"), "abc123");
  const vf = new VariantFile(file, "stable", log);
  const steps: [string | undefined, string][] = [
    [undefined, "stable"],
    ["canary\n", "canary"],
    ["stable", "stable"],
    ["preview", "preview"],
    ["blue", "stable"],
    [undefined, "stable"],
  ];
  for (const [content, want] of steps) {
    if (content === undefined) rmSync(file, { force: true });
    else writeFileSync(file, content);
    await vf.read();
    assert.equal(vf.current, want, JSON.stringify(content));
  }
});
