import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { repoRoot } from "../testing/repo.js";

// No Docker engine here: the Dockerfile is checked statically against what the rendered pods expect.
const text = readFileSync(join(repoRoot, "Dockerfile"), "utf8");
const lines = text.split("\n").filter((l) => l.trim() && !l.trim().startsWith("#"));

test("the image runs as a fixed non-root user and the CLI is the entrypoint", () => {
  const user = lines.filter((l) => l.startsWith("USER ")).at(-1);
  assert.equal(user, "USER 65532:65532", "matches runAsUser in rendered pods");
  assert.equal(
    lines.filter((l) => l.startsWith("ENTRYPOINT")).at(-1),
    'ENTRYPOINT ["node", "/app/bin/modelship.js"]',
  );
  assert.ok(existsSync(join(repoRoot, "bin/modelship.js")));
});

test("every COPY source exists and the build keeps onnxruntime's install step offline by default", () => {
  for (const l of lines.filter((x) => x.startsWith("COPY ") && !x.includes("--from="))) {
    const parts = l.split(/\s+/).slice(1, -1);
    for (const p of parts) assert.ok(existsSync(join(repoRoot, p)), `COPY source ${p} exists`);
  }
  assert.match(text, /ARG ONNXRUNTIME_NODE_INSTALL=skip/);
  assert.match(text, /npm ci && npm run build && npm prune --omit=dev/);
  const stages = lines.filter((l) => l.startsWith("FROM "));
  assert.equal(stages.length, 2, "a build stage and a slim runtime stage");
});
