// Kubeconfig files written to a temp dir and read back; the fallback runs @kubernetes/client-node for real
// (an exec credential plugin that is a real process).
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import yaml from "js-yaml";
import { bearerFromFile, fromKubeconfig, inCluster, loadConnection } from "./kubeconfig.js";

const dir = mkdtempSync(join(tmpdir(), "kubeconfig-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function kubeconfig(name: string, user: Record<string, unknown>, cluster: Record<string, unknown> = {}) {
  const path = join(dir, name);
  writeFileSync(
    path,
    yaml.dump({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "c", cluster: { server: "https://10.0.0.1:6443/", ...cluster } }],
      users: [{ name: "u", user }],
      contexts: [
        { name: "other", context: { cluster: "c", user: "u", namespace: "nope" } },
        { name: "ctx", context: { cluster: "c", user: "u", namespace: "team-a" } },
      ],
      "current-context": "ctx",
    }),
  );
  return path;
}

test("client certificates inline, the CA from a file beside the kubeconfig, the context's namespace", () => {
  writeFileSync(join(dir, "ca.crt"), "CA PEM");
  const c = fromKubeconfig(
    kubeconfig(
      "certs.yaml",
      {
        "client-certificate-data": Buffer.from("CERT PEM").toString("base64"),
        "client-key-data": Buffer.from("KEY PEM").toString("base64"),
      },
      { "certificate-authority": "ca.crt" },
    ),
  )!;
  assert.equal(c.server, "https://10.0.0.1:6443");
  assert.equal(c.namespace, "team-a");
  assert.equal(c.ca?.toString(), "CA PEM");
  assert.equal(c.cert?.toString(), "CERT PEM");
  assert.equal(c.key?.toString(), "KEY PEM");
  assert.equal(c.skipTLSVerify, false);
  assert.deepEqual(c.headers(), {});
});

test("a token, or a token file read again once it may have rotated", () => {
  const token = fromKubeconfig(
    kubeconfig("token.yaml", { token: "abc" }, { "insecure-skip-tls-verify": true }),
  )!;
  assert.deepEqual(token.headers(), { Authorization: "Bearer abc" });
  assert.equal(token.skipTLSVerify, true);

  const file = join(dir, "token");
  writeFileSync(file, "first\n");
  const headers = bearerFromFile(file, 0);
  assert.deepEqual(headers(), { Authorization: "Bearer first" });
  writeFileSync(file, "second\n");
  assert.deepEqual(headers(), { Authorization: "Bearer second" });
  const cached = bearerFromFile(file, 60_000);
  assert.deepEqual(cached(), { Authorization: "Bearer second" });
  writeFileSync(file, "third\n");
  assert.deepEqual(cached(), { Authorization: "Bearer second" }, "not re-read within the period");
});

test("in-cluster: the service account's token, CA and namespace", () => {
  const sa = join(dir, "sa");
  rmSync(sa, { recursive: true, force: true });
  mkdirSync(sa);
  writeFileSync(join(sa, "token"), "sa-token");
  writeFileSync(join(sa, "ca.crt"), "CLUSTER CA");
  writeFileSync(join(sa, "namespace"), "modelship-system\n");
  const c = inCluster("10.96.0.1", "443", sa);
  assert.equal(c.server, "https://10.96.0.1:443");
  assert.equal(c.namespace, "modelship-system");
  assert.equal(c.ca?.toString(), "CLUSTER CA");
  assert.deepEqual(c.headers(), { Authorization: "Bearer sa-token" });
  assert.equal(inCluster("fd00::1", "443", sa).server, "https://[fd00::1]:443");
});

test("an exec credential plugin goes to @kubernetes/client-node, which runs it", async () => {
  const plugin = join(dir, "plugin.sh");
  writeFileSync(
    plugin,
    `#!/bin/sh\necho '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"from-exec"}}'\n`,
  );
  chmodSync(plugin, 0o755);
  const path = kubeconfig("exec.yaml", {
    exec: { apiVersion: "client.authentication.k8s.io/v1", command: plugin, interactiveMode: "Never" },
  });
  assert.equal(fromKubeconfig(path), undefined);
  const c = await loadConnection(path);
  assert.equal(c.server, "https://10.0.0.1:6443");
  assert.equal(c.namespace, "team-a");
  assert.equal(c.headers().Authorization, "Bearer from-exec");
});

test("nothing configured: a clear error", async () => {
  await assert.rejects(
    loadConnection(undefined, { HOME: dir }),
    /no Kubernetes cluster configured: pass --kubeconfig or set KUBECONFIG/,
  );
});
