import { hostname } from "node:os";
import type { Producer } from "@platformatic/kafka";
import type { Logger } from "../platform/log.js";
import {
  checkTopic,
  describeKafkaError,
  isProducerStateError,
  isTooLargeError,
  kafkaConnectionOptions,
  parseBrokers,
  parseKafkaSecurity,
  SECURITY_OPTIONS,
  type KafkaSecurity,
  type SecurityOption,
} from "./kafka-client.js";
import { eventKeys } from "./partition.js";
import type { Sink } from "./sink.js";

/** Kafka's default message.max.bytes is 1048588; a little under it leaves room for the batch header. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1_000_000;

/** The CloudEvents Kafka binding, structured mode: the record's value is the whole event as JSON. */
const CONTENT_TYPE = "application/cloudevents+json; charset=UTF-8";

/** What one record costs beside its key and value: record framing and the content-type header. */
const RECORD_OVERHEAD = 96;

const SINK_OPTIONS = ["client-id", "max-message-bytes", "compression"] as const;
type SinkOption = (typeof SINK_OPTIONS)[number];

export interface KafkaSinkConfig {
  brokers: string[];
  topic: string;
  clientId: string;
  /** Largest record batch sent to one partition in one request, and so the largest event. */
  maxMessageBytes: number;
  compression: "none" | "gzip";
  security: KafkaSecurity;
}

/**
 * Parses kafka://host:port[,host:port]/topic[?options]. Options: tls, ca, cert, key, servername, sasl,
 * username-file, password-file, username-env, password-env (see kafka-client.ts), client-id,
 * max-message-bytes, compression (none | gzip). Credentials in the URL itself are refused: the URL is
 * logged and shown in pod specs.
 */
export function parseKafkaSinkUrl(url: string, env: NodeJS.ProcessEnv = process.env): KafkaSinkConfig {
  const where = `--sink "${redactUrl(url)}"`;
  const m = /^kafka:\/\/([^/?#]*)\/([^?#]*)(?:\?([^#]*))?$/.exec(url);
  if (!m) throw new Error(`${where} is not kafka://host:port[,host:port]/topic[?options]`);
  const [, authority = "", rawTopic = "", query = ""] = m;
  if (authority.includes("@"))
    throw new Error(
      `${where} carries credentials; put them in files (username-file=, password-file=) or environment variables (username-env=, password-env=) instead`,
    );
  const brokers = parseBrokers(authority, `${where}: brokers`);
  if (rawTopic === "") throw new Error(`${where} needs a topic: kafka://host:port/topic`);
  const topic = checkTopic(decodeURIComponent(rawTopic), `${where}: topic`);

  const params = new URLSearchParams(query);
  const known: readonly string[] = [...SECURITY_OPTIONS, ...SINK_OPTIONS];
  for (const key of new Set(params.keys())) {
    if (!known.includes(key))
      throw new Error(`${where}: unknown option "${key}"; known: ${known.join(", ")}`);
    if (params.getAll(key).length > 1) throw new Error(`${where}: option "${key}" is given twice`);
  }
  const get = (name: SecurityOption | SinkOption) => params.get(name) ?? undefined;
  const describe = (name: string) => `${where} option ${name}=`;
  const security = parseKafkaSecurity({ get, describe }, env);

  const maxText = get("max-message-bytes");
  const maxMessageBytes = maxText === undefined ? DEFAULT_MAX_MESSAGE_BYTES : Number(maxText);
  if (!Number.isInteger(maxMessageBytes) || maxMessageBytes < 1024)
    throw new Error(`${describe("max-message-bytes")} must be an integer >= 1024, got "${maxText}"`);
  const compression = get("compression") ?? "none";
  if (compression !== "none" && compression !== "gzip")
    throw new Error(`${describe("compression")} must be none or gzip, got "${compression}"`);
  return {
    brokers,
    topic,
    clientId: get("client-id") ?? `modelship-${hostname()}`,
    maxMessageBytes,
    compression,
    security,
  };
}

/** The URL with any user:password@ part replaced, for error messages. */
function redactUrl(url: string): string {
  return url.replace(/^(kafka:\/\/)[^/?#]*@/, "$1***@");
}

export interface PlannedRecord {
  key: Buffer;
  value: Buffer;
}

/**
 * Splits a batch of event lines into requests of at most maxBytes (key, value and framing counted), in
 * order. A line that alone exceeds the limit goes to `oversized`: no broker would take it.
 */
export function planRecords(
  lines: string[],
  maxBytes: number,
): { requests: PlannedRecord[][]; oversized: { id: string; bytes: number }[] } {
  const requests: PlannedRecord[][] = [];
  const oversized: { id: string; bytes: number }[] = [];
  let cur: PlannedRecord[] = [];
  let curBytes = 0;
  for (const line of lines) {
    const keys = eventKeys(line);
    // an event without a model still ships (the collector counts it invalid), on a fixed key
    const key = Buffer.from(keys?.model ?? "_invalid");
    const value = Buffer.from(line);
    const size = key.length + value.length + RECORD_OVERHEAD;
    if (size > maxBytes) {
      oversized.push({ id: keys?.id ?? "?", bytes: value.length });
      continue;
    }
    if (cur.length > 0 && curBytes + size > maxBytes) {
      requests.push(cur);
      cur = [];
      curBytes = 0;
    }
    cur.push({ key, value });
    curBytes += size;
  }
  if (cur.length > 0) requests.push(cur);
  return { requests, oversized };
}

/**
 * Produces each event as one record of the topic, keyed by its model (so one model's events keep their
 * order in one partition), with the idempotent producer and acks=all. send() resolves only once the
 * broker acknowledged every record, so the sender deletes a spool segment only after Kafka has it; a
 * failed send leaves it in the spool for a retry (at-least-once: a retry after a lost acknowledgement can
 * write a record twice; the collector de-duplicates by event id). The client library is loaded on first
 * use, so a process with another sink never loads it.
 */
export class KafkaSink implements Sink {
  readonly name = "kafka";
  private producer: Producer | undefined;
  private readonly headers: Map<Buffer, Buffer>;

  constructor(
    private readonly cfg: KafkaSinkConfig,
    private readonly log: Logger,
    private readonly timeoutMs: number,
  ) {
    this.headers = new Map([[Buffer.from("content-type"), Buffer.from(CONTENT_TYPE)]]);
    if (cfg.security.sasl?.mechanism === "plain" && !cfg.security.tls)
      log.warn(
        { brokers: cfg.brokers },
        "Configured SASL PLAIN without TLS: the password crosses the network in clear",
      );
  }

  private async client(): Promise<Producer> {
    if (this.producer) return this.producer;
    const { Producer, compatibilityPartitioner } = await import("@platformatic/kafka");
    this.producer = new Producer({
      clientId: this.cfg.clientId,
      bootstrapBrokers: this.cfg.brokers,
      idempotent: true,
      acks: -1,
      // the Java client's key -> partition mapping (murmur2 & 0x7fffffff), so every producer agrees
      partitioner: compatibilityPartitioner,
      // a few quick retries inside the client; past them send() fails and the sender backs off, counted
      retries: 2,
      retryDelay: 250,
      // an acks=all answer takes milliseconds; a broker that does not answer fails the batch soon, and
      // the sender's backoff (and its drain deadline at shutdown) takes over
      timeout: Math.min(this.timeoutMs, 15_000),
      connectTimeout: Math.min(this.timeoutMs, 10_000),
      ...(this.cfg.compression !== "none" ? { compression: this.cfg.compression } : {}),
      ...kafkaConnectionOptions(this.cfg.security),
    });
    return this.producer;
  }

  async send(lines: string[]): Promise<void> {
    const { requests, oversized } = planRecords(lines, this.cfg.maxMessageBytes);
    if (oversized.length > 0) this.dropOversized(oversized, "larger than max-message-bytes");
    for (const records of requests) await this.produce(records);
  }

  private async produce(records: PlannedRecord[]): Promise<void> {
    const producer = await this.client();
    try {
      await producer.send({
        messages: records.map((r) => ({
          topic: this.cfg.topic,
          key: r.key,
          value: r.value,
          headers: this.headers,
        })),
      });
    } catch (err) {
      // the broker's limit is lower than ours: halve until each half fits, and drop a single record that does not
      if (isTooLargeError(err)) {
        if (records.length === 1) {
          const r = records[0] as PlannedRecord;
          this.dropOversized(
            [{ id: eventKeys(r.value.toString())?.id ?? "?", bytes: r.value.length }],
            "refused by the broker as too large",
          );
          return;
        }
        const half = Math.ceil(records.length / 2);
        await this.produce(records.slice(0, half));
        await this.produce(records.slice(half));
        return;
      }
      if (isProducerStateError(err)) {
        // the broker no longer knows this producer's sequence: start over with a new producer id
        this.producer = undefined;
        await (producer.close(true) as unknown as Promise<void>).catch(() => undefined);
      }
      throw new Error(`kafka: ${describeKafkaError(err, this.cfg.topic)}`, { cause: err });
    }
  }

  private dropOversized(events: { id: string; bytes: number }[], why: string): void {
    this.log.error(
      {
        sink: this.name,
        events: events.length,
        ids: events.slice(0, 5).map((e) => e.id),
        largestBytes: Math.max(...events.map((e) => e.bytes)),
        maxMessageBytes: this.cfg.maxMessageBytes,
      },
      `Dropped events ${why}; raise the topic's max.message.bytes and the sink's max-message-bytes= to keep them`,
    );
  }

  async close(): Promise<void> {
    const p = this.producer;
    this.producer = undefined;
    if (p) await (p.close(true) as unknown as Promise<void>);
  }
}
