// Test helper: a real single-node Kafka broker (KRaft) on loopback, started by scripts/kafka.sh with the
// machine's Java, with a plain listener, a SASL_PLAINTEXT (SCRAM, PLAIN), a SASL_SSL and a mutual-TLS listener.
import { execFile, spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { segmentFiles, segmentLines } from "../read.js";
import { repoRoot } from "../../testing/repo.js";

const exec = promisify(execFile);
const script = join(repoRoot, "scripts", "kafka.sh");

/** The SCRAM user scripts/kafka.sh creates. */
export const SASL_USER = "modelship";
export const SASL_PASSWORD = "modelship-secret";

/** Why the broker cannot run here (no Java), or undefined when it can. */
export function javaMissing(): string | undefined {
  const r = spawnSync("java", ["-version"], { stdio: "ignore" });
  return r.error !== undefined || r.status !== 0
    ? "java not found: the Kafka tests need a Java 17+ runtime (Debian: apt-get install openjdk-17-jre-headless)"
    : undefined;
}

export interface KafkaBroker {
  /** host:port of the plain listener. */
  bootstrap: string;
  /** host:port of the SASL_PLAINTEXT listener (SCRAM-SHA-256/512). */
  saslBootstrap: string;
  /** host:port of the SASL_SSL listener; its certificate is `ca`. */
  sslBootstrap: string;
  ca: string;
  /** host:port of the SSL listener that requires a client certificate: `clientCert` and `clientKey` (PEM files). */
  mtlsBootstrap: string;
  clientCert: string;
  clientKey: string;
  dir: string;
  readonly pid: number;
  /** Stops the broker (SIGTERM, or SIGKILL for a crash) and waits for its process to be gone. */
  stop(signal?: "TERM" | "KILL"): Promise<void>;
  /** Starts it again on the same ports and data. */
  start(): Promise<void>;
}

function parse(out: string): Record<string, string> {
  return Object.fromEntries(
    out
      .split("\n")
      .map((l) => /^([A-Z_]+)=(.*)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1] as string, m[2] as string]),
  );
}

/** Fetches the jars (once: Maven shows its progress on stderr) and starts a broker; stop() it afterwards. */
export async function startKafka(): Promise<KafkaBroker> {
  const fetched = spawnSync("bash", [script, "fetch"], { stdio: ["ignore", "inherit", "inherit"] });
  if (fetched.status !== 0) throw new Error(`scripts/kafka.sh fetch failed (exit ${fetched.status})`);
  const first = parse(
    (
      await exec(
        "bash",
        [
          script,
          "start",
          "--sasl-port",
          "0",
          "--ssl-port",
          "0",
          "--mtls-port",
          "0",
          "--watch",
          String(process.pid),
        ],
        { timeout: 120_000 },
      )
    ).stdout,
  );
  let pid = Number(first.PID);
  const ports = ["--port", first.PORT!, "--sasl-port", first.SASL_PORT!, "--ssl-port", first.SSL_PORT!];
  ports.push("--mtls-port", first.MTLS_PORT!);
  ports.push("--watch", String(process.pid));
  return {
    bootstrap: `127.0.0.1:${first.PORT}`,
    saslBootstrap: `127.0.0.1:${first.SASL_PORT}`,
    sslBootstrap: `127.0.0.1:${first.SSL_PORT}`,
    ca: first.SSL_CA!,
    mtlsBootstrap: `127.0.0.1:${first.MTLS_PORT}`,
    clientCert: first.MTLS_CERT!,
    clientKey: first.MTLS_KEY!,
    dir: first.DIR!,
    get pid() {
      return pid;
    },
    async stop(signal = "TERM") {
      await exec("bash", [script, signal === "KILL" ? "kill" : "stop", String(pid)], { timeout: 60_000 });
    },
    async start() {
      const again = parse(
        (await exec("bash", [script, "start", "--dir", first.DIR!, ...ports], { timeout: 120_000 })).stdout,
      );
      pid = Number(again.PID);
    },
  };
}

/** Every stored event line under a collector's data dir (what a reader of the store sees). */
export async function storedLines(dataDir: string): Promise<string[]> {
  const out: string[] = [];
  const dirs = (d: string) => {
    try {
      return readdirSync(d).filter((n) => !n.startsWith("@") && statSync(join(d, n)).isDirectory());
    } catch {
      return [];
    }
  };
  for (const model of dirs(dataDir))
    for (const date of dirs(join(dataDir, model)))
      for (const hour of dirs(join(dataDir, model, date)))
        for (const file of await segmentFiles(join(dataDir, model, date, hour)))
          for await (const line of segmentLines(file)) out.push(line);
  return out;
}

/** The ids of stored lines. */
export function ids(lines: string[]): string[] {
  return lines.map((l) => (JSON.parse(l) as { id: string }).id);
}
