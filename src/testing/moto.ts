// moto's S3-compatible server for tests: installed once into a venv (src/fetch/testdata/moto-venv.sh),
// started on a free port, stopped by PID. The S3 tests skip with the reason when PyPI is out of reach.
import { spawn, spawnSync } from "node:child_process";
import { createServer, type AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";

export interface Moto {
  /** http://HOST:PORT, path-style. */
  endpoint: string;
  /** Credentials moto accepts (any SigV4 signature with them verifies). */
  env: Record<string, string>;
  /** Creates a bucket (moto takes an unsigned PUT). */
  createBucket(name: string): Promise<void>;
  stop(): void;
}

export const motoCredentials = {
  AWS_ACCESS_KEY_ID: "testing",
  AWS_SECRET_ACCESS_KEY: "testing",
  AWS_REGION: "us-east-1",
};

async function freePort(host: string): Promise<number> {
  const probe = createServer();
  await new Promise<void>((res) => probe.listen(0, host, () => res()));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((res) => probe.close(() => res()));
  return port;
}

/** Starts moto on host (loopback by default); a string is why it could not be installed. */
export async function startMoto(host = "127.0.0.1"): Promise<Moto | string> {
  const setup = fileURLToPath(new URL("../fetch/testdata/moto-venv.sh", import.meta.url));
  const r = spawnSync("bash", [setup], { encoding: "utf8", timeout: 280_000 });
  if (r.status !== 0)
    return `moto's S3 server could not be installed (python3 -m venv + pip install moto[server]): ${(r.stderr || r.error?.message || "").trim().split("\n").at(-1)}`;
  const port = await freePort(host);
  const child = spawn(r.stdout.trim(), ["-H", host, "-p", String(port)], { stdio: "ignore" });
  const endpoint = `http://${host}:${port}`;
  const stop = () => void child.kill("SIGTERM");
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${endpoint}/`)).ok) break;
    } catch {
      /* not up yet */
    }
    if (i >= 300 || child.exitCode !== null) {
      stop();
      throw new Error(`moto did not answer on ${endpoint} within 30 s`);
    }
    await new Promise((res) => setTimeout(res, 100));
  }
  return {
    endpoint,
    env: { ...motoCredentials },
    async createBucket(name) {
      const res = await fetch(`${endpoint}/${name}`, { method: "PUT" });
      if (res.status !== 200) throw new Error(`PUT ${endpoint}/${name} answered ${res.status}`);
    },
    stop,
  };
}
