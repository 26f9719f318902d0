import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../testing/onnx/builders.js";

function cli(...args: string[]) {
  return spawnSync(process.execPath, ["--import", "tsx", "bin/dev.ts", "fetch", ...args], {
    encoding: "utf8",
    timeout: 60_000,
  });
}

test("modelship fetch copies a file:// model and prints path, size and digest", () => {
  const src = join(tempDir(), "m.onnx");
  writeFileSync(src, "weights");
  const digest = createHash("sha256").update("weights").digest("hex");
  const dest = tempDir();
  const r = cli("--uri", `file://${src}`, "--dest", dest, "--sha256", digest);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), `${join(dest, "m.onnx")} 7 bytes sha256:${digest}`);
  assert.equal(readFileSync(join(dest, "m.onnx"), "utf8"), "weights");
});

test("a checksum mismatch exits 1 naming the expected and actual digests", () => {
  const src = join(tempDir(), "m.onnx");
  writeFileSync(src, "weights");
  const actual = createHash("sha256").update("weights").digest("hex");
  const r = cli("--uri", src, "--dest", tempDir(), "--sha256", "a".repeat(64));
  assert.equal(r.status, 1);
  assert.match(r.stderr, new RegExp(`expected ${"a".repeat(64)}, got ${actual}`));
});

test("bad flags exit 2 with the flag named", () => {
  assert.equal(cli("--dest", "x").status, 2);
  const bad = cli("--uri", "ftp://h/m.onnx", "--dest", tempDir());
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /unsupported scheme "ftp"/);
  const sha = cli("--uri", "a.onnx", "--dest", tempDir(), "--sha256", "xyz");
  assert.equal(sha.status, 2);
  assert.match(sha.stderr, /--sha256 must be 64 hex digits/);
});
