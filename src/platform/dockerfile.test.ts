import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { repoRoot } from "../testing/repo.js";

// Static checks of the Dockerfile against what the rendered pods expect; e2e/real-pods.test.ts builds it
// for real (npm run image) and runs it on the local cluster's node.
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
  // npm's own flags are empty by default (a normal online build); npm run image passes --offline
  assert.match(text, /^ARG NPM_CI_FLAGS=$/m);
  assert.match(text, /npm ci \$\{NPM_CI_FLAGS\} && npm run build && npm prune --omit=dev/);
});

test("the default target is the CPU image on NODE_IMAGE; the gpu target copies node into the CUDA base", () => {
  const stages = lines.filter((l) => l.startsWith("FROM "));
  assert.equal(
    stages.at(-1),
    "FROM ${NODE_IMAGE} AS cpu",
    "docker build without --target builds the CPU image",
  );
  assert.ok(stages.includes("FROM ${RUNTIME_IMAGE} AS gpu"));
  assert.ok(
    lines.includes("COPY --from=node /usr/local/bin/node /usr/local/bin/node"),
    "CUDA bases carry no Node.js",
  );
  assert.ok(!/--build-arg BASE=/.test(text), "no build arg the Dockerfile does not declare");
});

test("the image and the npm package carry proto/ beside dist/: the gRPC server loads its .proto from there", () => {
  assert.ok(lines.includes("COPY --from=build /src/dist /app/dist"));
  assert.ok(lines.includes("COPY proto /app/proto"), "dist/runtime/grpc-server.js reads ../../proto");
  const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { files: string[] };
  assert.ok(pkg.files.includes("proto") && pkg.files.includes("dist"));
  assert.ok(existsSync(join(repoRoot, "proto/grpc_predict_v2.proto")));
});
