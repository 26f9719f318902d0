// The floor for any Node.js proxy: node:http in, an undici keep-alive pool out, bodies buffered, no
// logging at all. The bench runs it beside the logger so the cost of Node itself and the cost of
// recording events can be told apart. Usage: node-proxy.ts UPSTREAM_URL (prints the port it listens on).
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Pool } from "undici";

const pool = new Pool(process.argv[2] as string, { connections: 256, keepAliveTimeout: 30_000 });
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    pool
      .request({
        method: req.method as "POST",
        path: req.url ?? "/",
        headers: { "content-type": req.headers["content-type"] ?? "application/json" },
        body: req.method === "GET" ? null : Buffer.concat(chunks),
      })
      .then(async (up) => {
        const body = Buffer.from(await up.body.arrayBuffer());
        res.writeHead(up.statusCode, { "content-type": "application/json", "content-length": body.length });
        res.end(body);
      })
      .catch(() => res.writeHead(502).end());
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, "127.0.0.1", () => console.log((server.address() as AddressInfo).port));
