// fetch: stream a model from its URI into DEST/NAME atomically (temp file + rename), verifying sha256.
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, open, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { get as httpGetPlain } from "node:http";
import { get as httpsGet } from "node:https";
import type { Logger } from "../platform/log.js";
import { isRetryableStatus, PermanentError, withRetry } from "./retry.js";
import { signV4, type Credentials } from "./sigv4.js";
import { defaultFileName, parseSource, type Source } from "./source.js";

export interface FetchOptions {
  uri: string;
  dest: string;
  filename?: string;
  sha256?: string;
  /** S3-compatible endpoint (path-style requests), e.g. a MinIO or Cloud Storage HMAC endpoint. */
  endpoint?: string;
  pvcRoot: string;
  env: Record<string, string | undefined>;
  log: Logger;
  attempts?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  progressIntervalMs?: number;
}

export interface FetchResult {
  path: string;
  bytes: number;
  sha256: string;
  attempts: number;
  skipped: boolean;
}

export class ChecksumError extends PermanentError {
  override name = "ChecksumError";
  constructor(
    readonly expected: string,
    readonly actual: string,
    what: string,
  ) {
    super(`sha256 mismatch for ${what}: expected ${expected}, got ${actual}`);
  }
}

interface Opened {
  stream: Readable;
  total?: number;
}

const CLOUD_STORAGE = "https://storage.googleapis.com";

const MAX_REDIRECTS = 5;
const HEADERS_TIMEOUT_MS = 60_000;
const IDLE_TIMEOUT_MS = 120_000;

/**
 * GET with node:http(s). Not undici: undici 7 (7.30.2, the last 7.x) throws an uncatchable assertion when a
 * server closes the connection while a backpressured body is paused (nodejs/undici#5360, fixed in 8.x),
 * which is exactly a large model streamed to disk from a store that sends Connection: close.
 */
function httpGet(url: string, headers: Record<string, string>, redirects = 0): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const get = target.protocol === "https:" ? httpsGet : httpGetPlain;
    const req = get(target, { headers, timeout: HEADERS_TIMEOUT_MS }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        if (redirects >= MAX_REDIRECTS) {
          reject(new PermanentError(`GET ${url}: more than ${MAX_REDIRECTS} redirects`));
          return;
        }
        // Signed headers belong to the first host only; a redirect target gets none of them.
        resolve(httpGet(new URL(res.headers.location, target).toString(), {}, redirects + 1));
        return;
      }
      if (status !== 200) {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (text = (text + c).slice(0, 300)));
        res.on("error", () => {});
        res.on("end", () => {
          const msg = `GET ${url} answered ${status}${text ? `: ${text.replace(/\s+/g, " ").trim()}` : ""}`;
          reject(isRetryableStatus(status) ? new Error(msg) : new PermanentError(msg));
        });
        return;
      }
      // From here on the body stream reports stalls and resets itself.
      req.setTimeout(IDLE_TIMEOUT_MS, () =>
        req.destroy(new Error(`GET ${url}: no data for ${IDLE_TIMEOUT_MS} ms`)),
      );
      const len = Number(res.headers["content-length"]);
      resolve({ stream: res, total: Number.isFinite(len) ? len : undefined });
    });
    req.on("timeout", () =>
      req.destroy(new Error(`GET ${url}: no response headers within ${HEADERS_TIMEOUT_MS} ms`)),
    );
    req.on("error", reject);
  });
}

function credentialsFrom(env: FetchOptions["env"]): Credentials | undefined {
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) return undefined;
  return { accessKeyId, secretAccessKey, sessionToken: env.AWS_SESSION_TOKEN || undefined };
}

/** The object URL: path-style on a custom endpoint, virtual-hosted on AWS, Cloud Storage's XML API for gs://. */
export function objectUrl(
  source: Extract<Source, { kind: "s3" }>,
  endpoint: string | undefined,
  region: string,
): URL {
  const key = source.key.split("/").map(encodeURIComponent).join("/");
  if (endpoint) return new URL(`${endpoint.replace(/\/+$/, "")}/${encodeURIComponent(source.bucket)}/${key}`);
  if (source.scheme === "gs") return new URL(`${CLOUD_STORAGE}/${encodeURIComponent(source.bucket)}/${key}`);
  if (source.bucket.includes("."))
    return new URL(`https://s3.${region}.amazonaws.com/${source.bucket}/${key}`);
  return new URL(`https://${source.bucket}.s3.${region}.amazonaws.com/${key}`);
}

async function openSource(source: Source, opts: FetchOptions): Promise<Opened> {
  switch (source.kind) {
    case "http":
      return httpGet(source.url, {});
    case "local": {
      let size: number;
      try {
        const st = await stat(source.path);
        if (!st.isFile()) throw new PermanentError(`${source.path} is not a file`);
        size = st.size;
      } catch (err) {
        if (err instanceof PermanentError) throw err;
        throw new PermanentError(`cannot read ${source.path}: ${(err as Error).message}`);
      }
      return { stream: createReadStream(source.path), total: size };
    }
    case "s3": {
      const env = opts.env;
      const endpoint = opts.endpoint ?? env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL;
      const region =
        env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? (source.scheme === "gs" ? "auto" : "us-east-1");
      const url = objectUrl(source, endpoint, region);
      const credentials = credentialsFrom(env);
      // No credentials: an anonymous GET, which public buckets allow.
      const headers = credentials
        ? signV4({ method: "GET", url, region, service: "s3", credentials, now: new Date() })
        : {};
      delete headers.host;
      return httpGet(url.toString(), headers);
    }
  }
}

async function sha256File(path: string): Promise<string> {
  const h = createHash("sha256");
  await pipeline(createReadStream(path), h);
  return h.digest("hex");
}

async function fsyncPath(path: string, flags: string): Promise<void> {
  const fh = await open(path, flags);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export async function fetchModel(opts: FetchOptions): Promise<FetchResult> {
  const { log } = opts;
  const source = parseSource(opts.uri, opts.pvcRoot);
  const name = opts.filename ?? defaultFileName(opts.uri);
  if (name.includes("/") || name === "." || name === "..")
    throw new PermanentError(`--filename ${name} must be a plain file name`);
  const want = opts.sha256?.toLowerCase();
  if (want !== undefined && !/^[0-9a-f]{64}$/.test(want)) {
    throw new PermanentError(`--sha256 must be 64 hex digits, got "${opts.sha256}"`);
  }
  await mkdir(opts.dest, { recursive: true });
  const target = join(opts.dest, name);

  // An init container that restarts finds the verified file already there.
  if (want !== undefined) {
    const existing = await sha256File(target).catch(() => undefined);
    if (existing === want) {
      const { size } = await stat(target);
      log.info({ path: target, sha256: want }, "Found model already downloaded and verified");
      return { path: target, bytes: size, sha256: want, attempts: 0, skipped: true };
    }
  }

  const interval = opts.progressIntervalMs ?? 5_000;
  let attempts = 0;
  const result = await withRetry(
    async (attempt) => {
      attempts = attempt;
      const tmp = join(opts.dest, `.${name}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
      try {
        const started = Date.now();
        const { stream, total } = await openSource(source, opts);
        const hash = createHash("sha256");
        let bytes = 0;
        let lastReport = started;
        const meter = new Transform({
          transform(chunk: Buffer, _enc, cb) {
            hash.update(chunk);
            bytes += chunk.length;
            const now = Date.now();
            if (now - lastReport >= interval) {
              lastReport = now;
              const mbps = bytes / 1e6 / ((now - started) / 1000);
              log.info(
                {
                  uri: opts.uri,
                  bytes,
                  total,
                  percent: total ? Math.round((bytes / total) * 1000) / 10 : undefined,
                  mbPerSec: Math.round(mbps * 10) / 10,
                },
                "Downloaded part of model",
              );
            }
            cb(null, chunk);
          },
        });
        await pipeline(stream, meter, createWriteStream(tmp));
        if (total !== undefined && bytes !== total)
          throw new Error(`download ended after ${bytes} of ${total} bytes`);
        const actual = hash.digest("hex");
        if (want !== undefined && actual !== want) throw new ChecksumError(want, actual, opts.uri);
        await fsyncPath(tmp, "r+");
        await rename(tmp, target);
        await fsyncPath(opts.dest, "r").catch(() => {});
        return {
          path: target,
          bytes,
          sha256: actual,
          attempts: attempt,
          skipped: false,
          ms: Date.now() - started,
        };
      } catch (err) {
        await rm(tmp, { force: true });
        throw err;
      }
    },
    {
      attempts: opts.attempts ?? 5,
      baseMs: opts.retryBaseMs ?? 1_000,
      maxMs: opts.retryMaxMs ?? 30_000,
      onRetry: (attempt, delayMs, err) =>
        log.warn({ uri: opts.uri, attempt, delayMs, err: err.message }, "Failed download attempt, retrying"),
    },
  ).catch((err: Error) => {
    (err as Error & { attempts?: number }).attempts = attempts;
    throw err;
  });
  log.info(
    { uri: opts.uri, path: result.path, bytes: result.bytes, sha256: result.sha256, ms: result.ms },
    "Downloaded model",
  );
  const { ms: _ms, ...rest } = result;
  return rest;
}

/** Opens any supported URI as a byte stream (used by `batch --input`); retries only the open. */
export async function openUri(
  uri: string,
  opts: Pick<FetchOptions, "endpoint" | "pvcRoot" | "env">,
): Promise<Readable> {
  const source = parseSource(uri, opts.pvcRoot);
  const opened = await withRetry(
    () => openSource(source, { ...opts, uri, dest: "", log: undefined as never }),
    {
      attempts: 3,
      baseMs: 500,
      maxMs: 5_000,
    },
  );
  return opened.stream;
}
