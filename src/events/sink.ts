import { Pool } from "undici";
import type { Logger } from "../platform/log.js";
import { KafkaSink, parseKafkaSinkUrl } from "./kafka-sink.js";
import { eventKeys, partitionOf } from "./partition.js";
import { PartitionedWriter } from "./partitioned-writer.js";
import { readTokenFile } from "./token.js";

/**
 * Where shipped events go. send() resolves once the sink has them durably (the sender then deletes the
 * spool segment) and rejects to make the sender retry; a RejectedBatchError means retrying cannot help.
 */
export interface Sink {
  readonly name: "stdout" | "file" | "http" | "kafka";
  send(lines: string[]): Promise<void>;
  close(): Promise<void>;
}

export class RejectedBatchError extends Error {
  override name = "RejectedBatchError";
}

export interface SinkOptions {
  requestTimeoutMs?: number;
  /** http(s) sinks: a file whose first line is the bearer token sent with every batch (a mounted Secret). */
  tokenFile?: string;
}

/** Picks the sink by the scheme of --sink: stdout:, file:///dir, http(s)://host:port[/path], kafka://. */
export function createSink(url: string, log: Logger, opts: SinkOptions = {}): Sink {
  // before new URL(): a list of brokers is no URL host
  if (url.startsWith("kafka://"))
    return new KafkaSink(parseKafkaSinkUrl(url), log, opts.requestTimeoutMs ?? 30_000);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`--sink "${url}" is not a URL; use stdout:, file:///dir or http://collector:9090`);
  }
  switch (u.protocol) {
    case "stdout:":
      return new StdoutSink();
    case "file:":
      if (u.pathname === "" || u.pathname === "/")
        throw new Error(`--sink "${url}" needs a directory: file:///dir`);
      return new FileSink(decodeURIComponent(u.pathname), log);
    case "http:":
    case "https:":
      return new HttpSink(u, opts.requestTimeoutMs ?? 30_000, opts.tokenFile);
    default:
      throw new Error(
        `--sink "${url}" has an unknown scheme; use stdout:, file:///dir, http://collector:9090 or kafka://broker:9092/topic`,
      );
  }
}

/** NDJSON on stdout, for `kubectl logs` and log shippers. */
export class StdoutSink implements Sink {
  readonly name = "stdout";
  constructor(private readonly out: NodeJS.WritableStream = process.stdout) {}
  send(lines: string[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.out.write(lines.join("\n") + "\n", (err) => (err ? reject(err) : resolve()));
    });
  }
  async close(): Promise<void> {}
}

/** Rotated NDJSON files partitioned like the collector's store: dir/<model>/<date>/<hour>/. */
export class FileSink implements Sink {
  readonly name = "file";
  private readonly writer: PartitionedWriter;
  constructor(dir: string, log: Logger) {
    this.writer = new PartitionedWriter({ dir, log });
  }
  send(lines: string[]): Promise<void> {
    const items = lines.map((line) => {
      const k = eventKeys(line);
      return { partition: partitionOf(k?.model ?? "_invalid", k?.time ?? new Date()), line };
    });
    return this.writer.write(items);
  }
  close(): Promise<void> {
    return this.writer.close();
  }
}

/**
 * Batched NDJSON POSTs to the collector's /v1/events (undici); the collector de-duplicates by event id.
 * With a token file, the file is read for every batch, so a rotated Secret is picked up as the kubelet
 * updates it; a 401 or 403 is retried (the token may be mid-rotation), never dropped.
 */
export class HttpSink implements Sink {
  readonly name = "http";
  private readonly pool: Pool;
  private readonly path: string;
  constructor(
    url: URL,
    private readonly timeoutMs: number,
    private readonly tokenFile?: string,
  ) {
    this.pool = new Pool(url.origin, { connections: 2, keepAliveTimeout: 10_000 });
    this.path = url.pathname === "" || url.pathname === "/" ? "/v1/events" : url.pathname;
  }
  async send(lines: string[]): Promise<void> {
    const headers: Record<string, string> = { "content-type": "application/x-ndjson" };
    if (this.tokenFile !== undefined) headers.authorization = `Bearer ${await readTokenFile(this.tokenFile)}`;
    const res = await this.pool.request({
      method: "POST",
      path: this.path,
      headers,
      body: lines.join("\n") + "\n",
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
    });
    if (res.statusCode >= 200 && res.statusCode < 300) {
      await res.body.dump();
      return;
    }
    const text = await boundedText(res.body, 300);
    const msg = `collector answered ${res.statusCode}: ${text}`;
    const status = res.statusCode;
    if (status === 401 || status === 403) throw new Error(`${msg} (check the sink token file)`);
    if (status >= 400 && status < 500 && status !== 408 && status !== 429) throw new RejectedBatchError(msg);
    throw new Error(msg);
  }
  close(): Promise<void> {
    return this.pool.close();
  }
}

/** The first `limit` bytes of an error answer, the rest discarded unread (a hostile sink cannot grow us). */
async function boundedText(
  body: AsyncIterable<Buffer> & { dump(): Promise<void> },
  limit: number,
): Promise<string> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of body) {
    parts.push(chunk);
    n += chunk.length;
    if (n >= limit) break;
  }
  await body.dump().catch(() => undefined);
  return Buffer.concat(parts).subarray(0, limit).toString("utf8");
}
