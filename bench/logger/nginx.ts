// nginx with a JSON access log that includes the request body: the stand-in for an Envoy sidecar.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

function works(bin: string): boolean {
  try {
    execFileSync(bin, ["-v"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/**
 * Finds an nginx binary: on PATH, in .cache/nginx from an earlier run, else the Debian package
 * extracted with `apt-get download` + `dpkg-deb -x` (no service is installed or started), else
 * `apt-get install -y nginx`. Returns undefined with the reason when none of these works.
 */
export function findNginx(cacheDir: string): { bin: string } | { skip: string } {
  for (const bin of ["nginx", "/usr/sbin/nginx"]) if (works(bin)) return { bin };
  const extracted = join(resolve(cacheDir), "root", "usr", "sbin", "nginx");
  if (works(extracted)) return { bin: extracted };
  const reasons: string[] = [];
  try {
    mkdirSync(cacheDir, { recursive: true });
    execFileSync("apt-get", ["download", "nginx"], { cwd: cacheDir, stdio: "ignore", timeout: 120_000 });
    const deb = readdirSync(cacheDir).find((f) => f.startsWith("nginx_") && f.endsWith(".deb"));
    if (deb === undefined) throw new Error("apt-get download left no nginx_*.deb");
    execFileSync("dpkg-deb", ["-x", join(cacheDir, deb), join(cacheDir, "root")], { stdio: "ignore" });
    if (works(extracted)) return { bin: extracted };
    reasons.push("the extracted nginx does not run (missing shared libraries?)");
  } catch (err) {
    reasons.push(`apt-get download + dpkg-deb -x: ${(err as Error).message.split("\n")[0]}`);
  }
  try {
    execFileSync("apt-get", ["install", "-y", "nginx"], { stdio: "ignore", timeout: 300_000 });
    for (const bin of ["nginx", "/usr/sbin/nginx"]) if (works(bin)) return { bin };
  } catch (err) {
    reasons.push(`apt-get install -y nginx: ${(err as Error).message.split("\n")[0]}`);
  }
  return { skip: reasons.join("; ") };
}

/** One worker (the logger is one Node process too), keep-alive both ways, body in memory, JSON log per request. */
export function nginxConfig(dir: string, port: number, upstreamPort: number): string {
  return `
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  log_format inference escape=json
    '{"time":"$time_iso8601","request_id":"$http_x_request_id","method":"$request_method","uri":"$request_uri",'
    '"status":$status,"request_time":$request_time,"upstream_time":"$upstream_response_time",'
    '"request_length":$request_length,"bytes_sent":$bytes_sent,"request_body":"$request_body"}';
  access_log ${dir}/access.log inference;
  client_body_buffer_size 1m;
  client_max_body_size 16m;
  keepalive_requests 1000000;
  upstream model { server 127.0.0.1:${upstreamPort}; keepalive 256; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://model;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering on;
    }
  }
}
`;
}

export function startNginx(bin: string, dir: string, port: number, upstreamPort: number): ChildProcess {
  for (const d of ["body", "proxy", "fastcgi", "uwsgi", "scgi"]) mkdirSync(join(dir, d), { recursive: true });
  const conf = join(dir, "nginx.conf");
  writeFileSync(conf, nginxConfig(dir, port, upstreamPort));
  if (!existsSync(conf)) throw new Error("could not write nginx.conf");
  return spawn(bin, ["-p", dir, "-c", conf, "-e", join(dir, "error.log")], { stdio: "ignore" });
}
