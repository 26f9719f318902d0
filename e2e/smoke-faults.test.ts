// Fault handling of the cluster scripts: each bad situation ends with a clear message.
// These never start a cluster: they use a throw-away E2E_HOME and fail before any build.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot, run } from "./lib/index.js";

let home: string;
before(() => {
  home = mkdtempSync(join(tmpdir(), "modelship-e2e-faults-"));
});
after(() => {
  rmSync(home, { recursive: true, force: true });
});

const script = (name: string) => join(repoRoot, "e2e", "cluster", name);

// run.sh exports where the running cluster's binaries and kubeconfig are; these tests must not see them.
const { E2E_BIN_DIR: _bin, E2E_KUBECONFIG: _kc, ...baseEnv } = process.env;

test("Given the API server port is taken, When cluster:up runs, Then it names the port, the holder and the fix", async () => {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  try {
    const r = await run("bash", [script("up.sh")], {
      allowFailure: true,
      // the port check is the subject; the machine's one real node may be the running cluster's
      env: { ...baseEnv, E2E_HOME: home, E2E_APISERVER_PORT: String(port), E2E_REAL_NODE: "0" },
    });
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      new RegExp(`port ${port} on 127\\.0\\.0\\.1 \\(wanted by kube-apiserver\\) is already in use`),
    );
    assert.match(r.stderr, /E2E_APISERVER_PORT=<free port> npm run cluster:up/);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

test("Given the running cluster's real node, When another checkout's cluster:up wants one, Then it refuses and the node stays", async (t) => {
  const owner = "/run/modelship-e2e/owner";
  if (!existsSync(owner)) return t.skip("no real node runs on this machine");
  const r = await run("bash", [script("up.sh")], { allowFailure: true, env: { ...baseEnv, E2E_HOME: home } });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /another e2e cluster's real node runs on this machine/);
  assert.match(r.stderr, /E2E_REAL_NODE=0 npm run cluster:up/);
  assert.ok(existsSync(owner), "the running cluster's node was left alone");
  // and a cluster:down of a checkout without a cluster leaves it alone too
  await run("bash", [script("down.sh")], { env: { ...baseEnv, E2E_HOME: home } });
  assert.ok(existsSync(owner), "still there after the other checkout's cluster:down");
});

test("Given no Go toolchain and no cached binaries, When cluster:up runs, Then it says what to install", async (t) => {
  const which = await run("bash", ["-c", "command -v go"], {
    allowFailure: true,
    env: { ...baseEnv, PATH: "/usr/bin:/bin" },
  });
  if (which.code === 0) return t.skip("go is installed in /usr/bin or /bin here, so it cannot be hidden");
  // Free ports, so the port check passes and the build step is reached.
  const free = await Promise.all(
    [0, 1, 2, 3, 4, 5].map(
      () =>
        new Promise<number>((resolve) => {
          const s = createServer().listen(0, "127.0.0.1", () => {
            const p = (s.address() as { port: number }).port;
            s.close(() => resolve(p));
          });
        }),
    ),
  );
  const [api, etcd, peer, kcm, sched, kwok] = free.map(String);
  const r = await run("bash", [script("up.sh")], {
    allowFailure: true,
    env: {
      ...baseEnv,
      PATH: "/usr/bin:/bin",
      E2E_HOME: home,
      // the message under test comes before any node is started; the machine's one real node is
      // (maybe) the running cluster's
      E2E_REAL_NODE: "0",
      E2E_APISERVER_PORT: api,
      E2E_ETCD_CLIENT_PORT: etcd,
      E2E_ETCD_PEER_PORT: peer,
      E2E_KCM_PORT: kcm,
      E2E_SCHEDULER_PORT: sched,
      E2E_KWOK_PORT: kwok,
    },
  });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /the Go toolchain is not on PATH and no cached binaries were found/);
  assert.match(r.stderr, /E2E_USE_EXISTING=1/);
});

test("Given no cluster, When cluster:down and cluster:status run, Then down succeeds and status says not running", async () => {
  const env = { ...baseEnv, E2E_HOME: home };
  const down = await run("bash", [script("down.sh")], { env });
  assert.match(down.stderr, /nothing to stop/);
  const status = await run("bash", [script("status.sh")], { env, allowFailure: true });
  assert.equal(status.code, 1);
  assert.match(status.stdout, /not running/);
});
