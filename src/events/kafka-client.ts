// What the kafka:// sink and the collector's consumer mode share: brokers and topic checks, TLS and SASL
// settings (URL query options for the sink, --kafka-* flags for the collector) and error descriptions.
// Secrets never come from the URL or a flag value: a file (a mounted Secret, re-read at every connection,
// so a rotation is picked up) or an environment variable.
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import type { ConnectionOptions as TlsOptions } from "node:tls";

export const SASL_MECHANISMS = ["plain", "scram-sha-256", "scram-sha-512"] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

/** The environment variables read for SASL credentials when no file or variable is named. */
export const DEFAULT_USERNAME_ENV = "MODELSHIP_KAFKA_USERNAME";
export const DEFAULT_PASSWORD_ENV = "MODELSHIP_KAFKA_PASSWORD";

/** Where one credential comes from. */
export type Secret = { file: string } | { env: string };

export interface KafkaSecurity {
  tls?: {
    /** PEM CA bundle; the system's CAs when absent. */
    ca?: Buffer;
    /** Client certificate and key (PEM), for brokers that require mutual TLS. */
    cert?: Buffer;
    key?: Buffer;
    /** The name the broker's certificate is checked against, when not the broker's host. */
    servername?: string;
  };
  sasl?: { mechanism: SaslMechanism; username: Secret; password: Secret };
}

/**
 * The option names, each with how to name it in an error: "--sink option ca=" for the URL,
 * "--kafka-ca" for the collector's flags.
 */
export interface SecuritySource {
  get(name: SecurityOption): string | undefined;
  describe(name: SecurityOption): string;
}

export const SECURITY_OPTIONS = [
  "tls",
  "ca",
  "cert",
  "key",
  "servername",
  "sasl",
  "username-file",
  "password-file",
  "username-env",
  "password-env",
] as const;
export type SecurityOption = (typeof SECURITY_OPTIONS)[number];

/**
 * Reads and checks the security options; throws naming the option and the fix. Certificate files are
 * read now (a bad path fails at start); credential files are only checked for readability here.
 */
export function parseKafkaSecurity(src: SecuritySource, env: NodeJS.ProcessEnv = process.env): KafkaSecurity {
  const out: KafkaSecurity = {};
  const readPem = (name: "ca" | "cert" | "key"): Buffer | undefined => {
    const path = src.get(name);
    if (path === undefined) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`${src.describe(name)}: cannot read ${path}: ${(err as Error).message}`);
    }
  };
  const tlsValue = src.get("tls");
  const tlsOn = tlsValue === undefined ? undefined : parseBool(tlsValue, src.describe("tls"));
  const ca = readPem("ca");
  const cert = readPem("cert");
  const key = readPem("key");
  const servername = src.get("servername");
  if ((cert === undefined) !== (key === undefined))
    throw new Error(`${src.describe("cert")} and ${src.describe("key")} go together: give both or neither`);
  const tlsImplied = ca !== undefined || cert !== undefined || servername !== undefined;
  if (tlsOn === false && tlsImplied)
    throw new Error(
      `${src.describe("tls")} is off but a CA, certificate or server name is given: turn TLS on`,
    );
  if (tlsOn === true || tlsImplied) {
    out.tls = {
      ...(ca !== undefined ? { ca } : {}),
      ...(cert !== undefined ? { cert } : {}),
      ...(key !== undefined ? { key } : {}),
      ...(servername !== undefined ? { servername } : {}),
    };
  }

  const mechanism = src.get("sasl");
  const credentialOptions = ["username-file", "password-file", "username-env", "password-env"] as const;
  if (mechanism === undefined) {
    const stray = credentialOptions.find((o) => src.get(o) !== undefined);
    if (stray !== undefined)
      throw new Error(
        `${src.describe(stray)} needs ${src.describe("sasl")}: one of ${SASL_MECHANISMS.join(", ")}`,
      );
    return out;
  }
  const m = mechanism.toLowerCase();
  if (!(SASL_MECHANISMS as readonly string[]).includes(m))
    throw new Error(
      `${src.describe("sasl")} must be one of ${SASL_MECHANISMS.join(", ")}, got "${mechanism}"`,
    );
  out.sasl = {
    mechanism: m as SaslMechanism,
    username: secretFrom(src, "username", DEFAULT_USERNAME_ENV, env),
    password: secretFrom(src, "password", DEFAULT_PASSWORD_ENV, env),
  };
  return out;
}

function secretFrom(
  src: SecuritySource,
  what: "username" | "password",
  fallbackEnv: string,
  env: NodeJS.ProcessEnv,
): Secret {
  const file = src.get(`${what}-file`);
  const envName = src.get(`${what}-env`);
  if (file !== undefined && envName !== undefined)
    throw new Error(`give ${src.describe(`${what}-file`)} or ${src.describe(`${what}-env`)}, not both`);
  if (file !== undefined) {
    try {
      readFileSync(file);
    } catch (err) {
      throw new Error(`${src.describe(`${what}-file`)}: cannot read ${file}: ${(err as Error).message}`);
    }
    return { file };
  }
  const name = envName ?? fallbackEnv;
  if (env[name] === undefined || env[name] === "")
    throw new Error(
      `SASL needs a ${what}: set the environment variable ${name}, or name a file with ${src.describe(`${what}-file`)}`,
    );
  return { env: name };
}

function parseBool(value: string, name: string): boolean {
  if (["1", "true", "yes", "on"].includes(value.toLowerCase())) return true;
  if (["0", "false", "no", "off"].includes(value.toLowerCase())) return false;
  throw new Error(`${name} must be 1 or 0, got "${value}"`);
}

/** Reads a credential: the file's first line (trimmed), or the variable. Throws naming the source. */
export async function readSecret(secret: Secret, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if ("env" in secret) {
    const v = env[secret.env];
    if (v === undefined || v === "") throw new Error(`environment variable ${secret.env} is empty`);
    return v;
  }
  let text: string;
  try {
    text = await readFile(secret.file, "utf8");
  } catch (err) {
    throw new Error(`cannot read ${secret.file}: ${(err as Error).message}`);
  }
  const v = text.split("\n")[0]?.trim() ?? "";
  if (v === "") throw new Error(`${secret.file} is empty`);
  return v;
}

/** The connection options of @platformatic/kafka for these settings (its tls and sasl fields). */
export function kafkaConnectionOptions(sec: KafkaSecurity): {
  tls?: TlsOptions;
  tlsServerName?: string;
  sasl?: {
    mechanism: "PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512";
    username: () => Promise<string>;
    password: () => Promise<string>;
  };
} {
  const out: ReturnType<typeof kafkaConnectionOptions> = {};
  if (sec.tls) {
    const { ca, cert, key, servername } = sec.tls;
    out.tls = {
      ...(ca !== undefined ? { ca } : {}),
      ...(cert !== undefined ? { cert } : {}),
      ...(key !== undefined ? { key } : {}),
    };
    if (servername !== undefined) out.tlsServerName = servername;
  }
  if (sec.sasl) {
    const { username, password } = sec.sasl;
    out.sasl = {
      mechanism: sec.sasl.mechanism.toUpperCase() as "PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512",
      username: () => readSecret(username),
      password: () => readSecret(password),
    };
  }
  return out;
}

/** "host:port[,host:port]" as a list; throws naming the option when an entry is not host:port. */
export function parseBrokers(value: string, name: string): string[] {
  const brokers = value
    .split(",")
    .map((b) => b.trim())
    .filter((b) => b !== "");
  if (brokers.length === 0) throw new Error(`${name} needs at least one broker as host:port`);
  for (const b of brokers) {
    const m = /^([A-Za-z0-9._-]+):(\d{1,5})$/.exec(b);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535)
      throw new Error(`${name}: "${b}" is not host:port (e.g. kafka-0.kafka:9092)`);
  }
  return brokers;
}

/** Kafka's own rule for topic names. */
export function checkTopic(topic: string, name: string): string {
  if (!/^[A-Za-z0-9._-]{1,249}$/.test(topic) || topic === "." || topic === "..")
    throw new Error(
      `${name}: "${topic}" is not a Kafka topic name (letters, digits, ".", "_", "-"; at most 249)`,
    );
  return topic;
}

/** Kafka protocol errors after which an idempotent producer must start over with a new producer id. */
const PRODUCER_STATE_ERRORS = [
  "OUT_OF_ORDER_SEQUENCE_NUMBER",
  "UNKNOWN_PRODUCER_ID",
  "INVALID_PRODUCER_EPOCH",
  "INVALID_PRODUCER_ID_MAPPING",
  "PRODUCER_FENCED",
];

/** What a @platformatic/kafka error is about, from its protocol error ids (apiId). */
export function kafkaErrorIds(err: unknown): string[] {
  const ids: string[] = [];
  const walk = (e: unknown, depth: number) => {
    if (typeof e !== "object" || e === null || depth > 5) return;
    const o = e as { apiId?: unknown; errors?: unknown; cause?: unknown };
    if (typeof o.apiId === "string" && !ids.includes(o.apiId)) ids.push(o.apiId);
    if (Array.isArray(o.errors)) for (const c of o.errors) walk(c, depth + 1);
    walk(o.cause, depth + 1);
  };
  walk(err, 0);
  return ids;
}

export function isProducerStateError(err: unknown): boolean {
  return kafkaErrorIds(err).some((id) => PRODUCER_STATE_ERRORS.includes(id));
}

export function isTooLargeError(err: unknown): boolean {
  return kafkaErrorIds(err).some((id) => id === "MESSAGE_TOO_LARGE" || id === "RECORD_LIST_TOO_LARGE");
}

/**
 * One line for a log or a thrown error: the client's message, the first distinct causes (it nests them
 * in AggregateErrors), and a hint where the cause is a setting.
 */
export function describeKafkaError(err: unknown, topic: string): string {
  const messages: string[] = [];
  const walk = (e: unknown, depth: number) => {
    if (typeof e !== "object" || e === null || depth > 5 || messages.length >= 4) return;
    const o = e as { message?: unknown; errors?: unknown; cause?: unknown };
    const message = typeof o.message === "string" ? o.message.replace(/\.$/, "") : "";
    if (message !== "" && !messages.includes(message)) messages.push(message);
    if (Array.isArray(o.errors)) for (const c of o.errors) walk(c, depth + 1);
    walk(o.cause, depth + 1);
  };
  walk(err, 0);
  let text = messages.join(": ") || String(err);
  const ids = kafkaErrorIds(err);
  const code = (err as { code?: unknown }).code;
  if (code === "PLT_KFK_AUTHENTICATION" || ids.includes("SASL_AUTHENTICATION_FAILED"))
    text += " (check the SASL mechanism, username and password)";
  else if (ids.includes("UNKNOWN_TOPIC_OR_PARTITION") || ids.includes("UNKNOWN_TOPIC_ID"))
    text += ` (create the topic "${topic}" first: modelship does not create topics)`;
  else if (ids.some((id) => id.endsWith("AUTHORIZATION_FAILED")))
    text += ` (the broker's ACLs do not let this user use topic "${topic}" or its group)`;
  return text;
}
