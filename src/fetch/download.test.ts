import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { Writable } from "node:stream";
import { createLogger } from "../platform/log.js";
import { startMoto, type Moto } from "../testing/moto.js";
import { tempDir } from "../testing/onnx/builders.js";
import { ChecksumError, fetchModel, type FetchOptions } from "./download.js";

const payload = randomBytes(300_000);
const digest = createHash("sha256").update(payload).digest("hex");
const big = randomBytes(8 << 20);

/** A logger whose JSON lines the test can read. */
function captureLogger() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split("\n").filter(Boolean))
        lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { log: createLogger({ name: "fetch", level: "debug", destination: sink }), lines };
}

function opts(uri: string, dest: string, extra: Partial<FetchOptions> = {}): FetchOptions {
  return {
    uri,
    dest,
    pvcRoot: "/nonexistent",
    env: {},
    log: createLogger({ name: "fetch", level: "silent" }),
    retryBaseMs: 5,
    retryMaxMs: 20,
    ...extra,
  };
}

function noTempFiles(dir: string): void {
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.includes(".tmp-")),
    [],
    "no temp files left behind",
  );
}

describe("fetch over HTTP from a real local server", () => {
  let server: Server;
  let base = "";
  const hits = new Map<string, number>();
  before(async () => {
    server = createServer((req, res) => {
      const path = req.url ?? "/";
      const n = (hits.get(path) ?? 0) + 1;
      hits.set(path, n);
      if (path === "/model.onnx") {
        res.writeHead(200, { "content-length": payload.length }).end(payload);
      } else if (path === "/flaky.onnx") {
        // Two failures (a 503, then a body cut short), then the file.
        if (n === 1) res.writeHead(503).end("try later");
        else if (n === 2) {
          res.writeHead(200, { "content-length": payload.length });
          res.write(payload.subarray(0, 1000), () => res.destroy());
        } else res.writeHead(200, { "content-length": payload.length }).end(payload);
      } else if (path === "/close.onnx") {
        // The whole body at once, then FIN: a reader under backpressure must still finish (nodejs/undici#5360).
        res.writeHead(200, { "content-length": big.length, connection: "close" }).end(big);
      } else if (path === "/moved") {
        res.writeHead(302, { location: "/model.onnx" }).end();
      } else if (path === "/slow.onnx") {
        // Dribbles the file out so progress reporting has something to report.
        res.writeHead(200, { "content-length": payload.length });
        let off = 0;
        const t = setInterval(() => {
          res.write(payload.subarray(off, off + 50_000));
          off += 50_000;
          if (off >= payload.length) {
            clearInterval(t);
            res.end();
          }
        }, 20);
      } else {
        res.writeHead(404).end("no such object");
      }
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  test("downloads, verifies and writes DEST/NAME atomically", async () => {
    const dest = join(tempDir(), "models");
    const r = await fetchModel(opts(`${base}/model.onnx`, dest, { sha256: digest }));
    assert.equal(r.path, join(dest, "model.onnx"));
    assert.equal(r.bytes, payload.length);
    assert.equal(r.sha256, digest);
    assert.ok(readFileSync(r.path).equals(payload));
    noTempFiles(dest);
  });

  test("retries a 503 and a truncated body, then succeeds", async () => {
    const dest = tempDir();
    const { log, lines } = captureLogger();
    const r = await fetchModel(opts(`${base}/flaky.onnx`, dest, { log, sha256: digest }));
    assert.equal(r.attempts, 3);
    assert.ok(readFileSync(r.path).equals(payload));
    assert.equal(lines.filter((l) => l.msg === "Failed download attempt, retrying").length, 2);
    noTempFiles(dest);
  });

  test("a large body followed by connection close completes under backpressure", async () => {
    const dest = tempDir();
    const r = await fetchModel(
      opts(`${base}/close.onnx`, dest, { sha256: createHash("sha256").update(big).digest("hex") }),
    );
    assert.equal(r.bytes, big.length);
  });

  test("a 404 fails at once without retrying", async () => {
    const dest = tempDir();
    await assert.rejects(fetchModel(opts(`${base}/missing.onnx`, dest)), /answered 404: no such object/);
    assert.equal(hits.get("/missing.onnx"), 1);
    noTempFiles(dest);
  });

  test("a checksum mismatch names both digests and leaves nothing behind", async () => {
    const dest = tempDir();
    const wrong = "0".repeat(64);
    await assert.rejects(fetchModel(opts(`${base}/model.onnx`, dest, { sha256: wrong })), (err: Error) => {
      assert.ok(err instanceof ChecksumError);
      assert.match(err.message, new RegExp(`expected ${wrong}, got ${digest}`));
      return true;
    });
    assert.deepEqual(readdirSync(dest), []);
  });

  test("follows redirects; --filename renames; an already verified file is not downloaded again", async () => {
    const dest = tempDir();
    const r = await fetchModel(opts(`${base}/moved`, dest, { filename: "m.onnx", sha256: digest }));
    assert.equal(r.path, join(dest, "m.onnx"));
    const before = hits.get("/model.onnx") ?? 0;
    const again = await fetchModel(opts(`${base}/moved`, dest, { filename: "m.onnx", sha256: digest }));
    assert.equal(again.skipped, true);
    assert.equal(hits.get("/model.onnx") ?? 0, before);
  });

  test("reports progress on long downloads", async () => {
    const dest = tempDir();
    const { log, lines } = captureLogger();
    await fetchModel(opts(`${base}/slow.onnx`, dest, { log, progressIntervalMs: 1 }));
    const progress = lines.filter((l) => l.msg === "Downloaded part of model");
    assert.ok(progress.length >= 1, "at least one progress line");
    assert.equal(progress[0]!.total, payload.length);
    assert.equal(typeof progress[0]!.percent, "number");
  });
});

describe("fetch from pvc:// and file://", () => {
  test("reads <pvc-root>/CLAIM/path and file:// paths", async () => {
    const root = tempDir();
    mkdirSync(join(root, "claim", "dir"), { recursive: true });
    writeFileSync(join(root, "claim", "dir", "m.onnx"), payload);
    const dest = tempDir();
    const r = await fetchModel(opts("pvc://claim/dir/m.onnx", dest, { pvcRoot: root, sha256: digest }));
    assert.ok(readFileSync(r.path).equals(payload));
    const dest2 = tempDir();
    const r2 = await fetchModel(opts(`file://${join(root, "claim", "dir", "m.onnx")}`, dest2));
    assert.equal(r2.sha256, digest);
    await assert.rejects(
      fetchModel(opts("pvc://claim/nope.onnx", tempDir(), { pvcRoot: root })),
      /cannot read/,
    );
  });
});

describe("fetch from a real S3-compatible server (moto)", () => {
  let moto: Moto | undefined;
  let endpoint = "";
  let skip: string | false = false;

  before(
    async () => {
      const m = await startMoto();
      if (typeof m === "string") {
        skip = m;
        return;
      }
      moto = m;
      endpoint = m.endpoint;
      // Bucket and objects through plain S3 REST calls (moto accepts unsigned writes).
      await m.createBucket("models");
      for (const key of ["fraud/v1/model.onnx", "gcs/model.onnx"]) {
        const put = await fetch(`${endpoint}/models/${key}`, { method: "PUT", body: payload });
        assert.equal(put.status, 200);
      }
    },
    { timeout: 300_000 },
  );

  after(() => {
    moto?.stop();
  });

  test("s3:// with SigV4 credentials and --endpoint", async (t) => {
    if (skip) return t.skip(skip);
    const dest = tempDir();
    const env = { AWS_ACCESS_KEY_ID: "testing", AWS_SECRET_ACCESS_KEY: "testing", AWS_REGION: "us-east-1" };
    const r = await fetchModel(
      opts("s3://models/fraud/v1/model.onnx", dest, { endpoint, env, sha256: digest }),
    );
    assert.ok(readFileSync(r.path).equals(payload));
    assert.ok(existsSync(join(dest, "model.onnx")));
  });

  test("AWS_ENDPOINT_URL from the environment; a missing key is a permanent 404", async (t) => {
    if (skip) return t.skip(skip);
    const env = {
      AWS_ACCESS_KEY_ID: "testing",
      AWS_SECRET_ACCESS_KEY: "testing",
      AWS_ENDPOINT_URL: endpoint,
    };
    const r = await fetchModel(opts("gs://models/gcs/model.onnx", tempDir(), { env }));
    assert.equal(r.sha256, digest);
    await assert.rejects(fetchModel(opts("s3://models/none.onnx", tempDir(), { env })), /answered 404/);
  });
});
