// Where the Parquet archive's files go: a directory (rename into place) or an S3-compatible bucket (one
// signed PUT per file), keyed by archive keys (parquet-layout.ts). No DuckDB here, so the collector and
// its flags load the native module only when an archive is configured.
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, mkdtemp, open, readdir, readFile, rename, rm, rmdir, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { request } from "undici";
import { objectUrl } from "../fetch/download.js";
import { signV4, type Credentials } from "../fetch/sigv4.js";

/** Where archived Parquet files go: a directory or a bucket prefix, keyed by archive keys (parquet-layout.ts). */
export interface ArchiveTarget {
  /** For logs: the directory or s3://bucket/prefix. */
  readonly location: string;
  /**
   * Stores a file at key: produce writes it to the local path it is given, then the target publishes it
   * at once (a rename, or one PUT), so a reader never sees a partial file.
   */
  store(key: string, produce: (file: string) => Promise<void>): Promise<{ bytes: number }>;
  exists(key: string): Promise<boolean>;
  /** A small object's bytes (a drift report); undefined when there is none. Throws beyond maxBytes. */
  read(key: string, maxBytes: number): Promise<Buffer | undefined>;
  /** Every key under the root (archive files and anything else), or only those starting with under. */
  list(under?: string): Promise<string[]>;
  remove(keys: string[]): Promise<void>;
}

/** A directory target: files are written beside their final name as hidden .tmp files, fsynced, then renamed. */
export class DirTarget implements ArchiveTarget {
  constructor(readonly root: string) {}

  get location(): string {
    return this.root;
  }

  async store(key: string, produce: (file: string) => Promise<void>): Promise<{ bytes: number }> {
    const final = join(this.root, key);
    const dir = dirname(final);
    await mkdir(dir, { recursive: true });
    // a leading dot: Spark, pandas and pyarrow skip hidden files, and *.parquet globs miss .tmp
    const tmp = join(dir, `.${final.slice(dir.length + 1)}.${randomBytes(4).toString("hex")}.tmp`);
    try {
      await produce(tmp);
      await fsync(tmp);
      await rename(tmp, final);
      await fsync(dir);
    } finally {
      await rm(tmp, { force: true });
    }
    return { bytes: (await stat(final)).size };
  }

  async exists(key: string): Promise<boolean> {
    try {
      await stat(join(this.root, key));
      return true;
    } catch {
      return false;
    }
  }

  async read(key: string, maxBytes: number): Promise<Buffer | undefined> {
    try {
      const file = join(this.root, key);
      if ((await stat(file)).size > maxBytes) throw new Error(`${file} is over ${maxBytes} bytes`);
      return await readFile(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
  }

  async list(under = ""): Promise<string[]> {
    const out: string[] = [];
    const walk = async (rel: string) => {
      let entries;
      try {
        entries = await readdir(join(this.root, rel), { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
        throw err;
      }
      for (const e of entries) {
        const p = rel === "" ? e.name : `${rel}/${e.name}`;
        if (e.isDirectory()) await walk(p);
        else out.push(p);
      }
    };
    // from the deepest directory `under` names, so a listing of reports/ never walks the Parquet files
    await walk(under.slice(0, Math.max(under.lastIndexOf("/"), 0)));
    return out.filter((k) => k.startsWith(under)).sort();
  }

  async remove(keys: string[]): Promise<void> {
    const dirs = new Set<string>();
    for (const key of keys) {
      await rm(join(this.root, key), { force: true });
      for (let d = dirname(key); d !== "." && d !== ""; d = dirname(d)) dirs.add(d);
    }
    // deepest first, so hour, then date, then model directories go once empty
    for (const d of [...dirs].sort((a, b) => b.length - a.length)) {
      try {
        await rmdir(join(this.root, d));
      } catch {
        // not empty, or already gone
      }
    }
  }
}

async function fsync(path: string): Promise<void> {
  const fh = await open(path, "r");
  try {
    await fh.sync();
  } catch {
    // some filesystems refuse fsync on directories
  } finally {
    await fh.close();
  }
}

/** s3://bucket[/prefix] -> its parts; throws naming the flag's expected form. */
export function parseBucketUrl(url: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (!m || m[1] === "") throw new Error(`expected s3://BUCKET[/PREFIX], got "${url}"`);
  const prefix = m[2]!.replace(/\/+$/, "");
  return { bucket: m[1]!, prefix: prefix === "" ? "" : `${prefix}/` };
}

export interface S3TargetOptions {
  bucket: string;
  /** "" or a prefix ending in "/". */
  prefix: string;
  /** S3-compatible endpoint (path-style); AWS's virtual-hosted endpoint when absent. */
  endpoint?: string;
  region: string;
  credentials: Credentials;
  /** Where files are written before their PUT. */
  stagingDir?: string;
}

/**
 * A bucket target over the S3 REST API, signed with SigV4 (the same code as model downloads): one PUT per
 * file with its SHA-256 as the signed payload hash, ListObjectsV2 for retention, DELETE per object.
 */
export class S3Target implements ArchiveTarget {
  constructor(private readonly o: S3TargetOptions) {}

  /** From s3://bucket/prefix and the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION...). */
  static fromUrl(
    url: string,
    endpoint: string | undefined,
    env: Record<string, string | undefined>,
  ): S3Target {
    const { bucket, prefix } = parseBucketUrl(url);
    const accessKeyId = env.AWS_ACCESS_KEY_ID;
    const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
    if (!accessKeyId || !secretAccessKey)
      throw new Error(
        `writing to ${url} needs credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary ones)`,
      );
    return new S3Target({
      bucket,
      prefix,
      endpoint: endpoint ?? env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL,
      region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? "us-east-1",
      credentials: { accessKeyId, secretAccessKey, sessionToken: env.AWS_SESSION_TOKEN || undefined },
    });
  }

  get location(): string {
    return `s3://${this.o.bucket}/${this.o.prefix}`;
  }

  private url(key: string): URL {
    return objectUrl(
      { kind: "s3", scheme: "s3", bucket: this.o.bucket, key },
      this.o.endpoint,
      this.o.region,
    );
  }

  private async call(
    method: string,
    url: URL,
    opts: { payloadHash?: string; body?: NodeJS.ReadableStream; length?: number } = {},
  ) {
    const headers = signV4({
      method,
      url,
      region: this.o.region,
      service: "s3",
      credentials: this.o.credentials,
      now: new Date(),
      payloadHash: opts.payloadHash ?? sha256Hex(Buffer.alloc(0)),
    });
    delete headers.host;
    if (opts.length !== undefined) headers["content-length"] = String(opts.length);
    return request(url, {
      method: method as "GET",
      headers,
      body: opts.body as never,
      headersTimeout: 30_000,
      bodyTimeout: 300_000,
    });
  }

  async store(key: string, produce: (file: string) => Promise<void>): Promise<{ bytes: number }> {
    const dir = await mkdtemp(join(this.o.stagingDir ?? tmpdir(), "modelship-archive-"));
    try {
      const file = join(dir, "part.parquet");
      await produce(file);
      const { size } = await stat(file);
      const hash = createHash("sha256");
      for await (const b of createReadStream(file)) hash.update(b as Buffer);
      const url = this.url(this.o.prefix + key);
      const res = await this.call("PUT", url, {
        payloadHash: hash.digest("hex"),
        body: createReadStream(file),
        length: size,
      });
      const text = await res.body.text();
      if (res.statusCode !== 200)
        throw new Error(`PUT ${url} answered ${res.statusCode}: ${text.slice(0, 300)}`);
      return { bytes: size };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Downloads the object at key into file. */
  async download(key: string, file: string): Promise<void> {
    const url = this.url(this.o.prefix + key);
    const res = await this.call("GET", url);
    if (res.statusCode !== 200) {
      const text = await res.body.text();
      throw new Error(`GET ${url} answered ${res.statusCode}: ${text.slice(0, 300)}`);
    }
    await pipeline(res.body, createWriteStream(file));
  }

  async read(key: string, maxBytes: number): Promise<Buffer | undefined> {
    const url = this.url(this.o.prefix + key);
    const res = await this.call("GET", url);
    if (res.statusCode === 404) {
      await res.body.dump();
      return undefined;
    }
    if (res.statusCode !== 200) {
      const text = await res.body.text();
      throw new Error(`GET ${url} answered ${res.statusCode}: ${text.slice(0, 300)}`);
    }
    const parts: Buffer[] = [];
    let size = 0;
    for await (const b of res.body) {
      size += (b as Buffer).length;
      if (size > maxBytes) {
        res.body.destroy();
        throw new Error(`GET ${url}: the object is over ${maxBytes} bytes`);
      }
      parts.push(b as Buffer);
    }
    return Buffer.concat(parts);
  }

  async exists(key: string): Promise<boolean> {
    const url = this.url(this.o.prefix + key);
    const res = await this.call("HEAD", url);
    await res.body.dump();
    if (res.statusCode === 200) return true;
    if (res.statusCode === 404) return false;
    throw new Error(`HEAD ${url} answered ${res.statusCode}`);
  }

  /** Every key under the root, or only those starting with under (e.g. "model=fraud/date=2026-03-01/"). */
  async list(under = ""): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const url = this.url("");
      url.searchParams.set("list-type", "2");
      if (this.o.prefix + under !== "") url.searchParams.set("prefix", this.o.prefix + under);
      if (token !== undefined) url.searchParams.set("continuation-token", token);
      const res = await this.call("GET", url);
      const xml = await res.body.text();
      if (res.statusCode !== 200)
        throw new Error(`GET ${url} answered ${res.statusCode}: ${xml.slice(0, 300)}`);
      for (const m of xml.matchAll(/<Key>([^<]*)<\/Key>/g))
        keys.push(xmlText(m[1]!).slice(this.o.prefix.length));
      token = /<IsTruncated>true<\/IsTruncated>/.test(xml)
        ? xmlText(/<NextContinuationToken>([^<]*)<\/NextContinuationToken>/.exec(xml)?.[1] ?? "")
        : undefined;
    } while (token);
    return keys.sort();
  }

  async remove(keys: string[]): Promise<void> {
    for (const key of keys) {
      const url = this.url(this.o.prefix + key);
      const res = await this.call("DELETE", url);
      await res.body.dump();
      if (res.statusCode !== 204 && res.statusCode !== 200 && res.statusCode !== 404)
        throw new Error(`DELETE ${url} answered ${res.statusCode}`);
    }
  }
}

function sha256Hex(b: Buffer): string {
  return createHash("sha256").update(b).digest("hex");
}

function xmlText(s: string): string {
  return s.replace(/&(lt|gt|quot|apos|amp|#\d+);/g, (_, e: string) => {
    switch (e) {
      case "lt":
        return "<";
      case "gt":
        return ">";
      case "quot":
        return '"';
      case "apos":
        return "'";
      case "amp":
        return "&";
      default:
        return String.fromCodePoint(Number(e.slice(1)));
    }
  });
}
