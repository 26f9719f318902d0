// The baseline: the smallest node:http server, answering every request with a short JSON body.
import { createServer } from "node:http";

const port = Number(process.argv[2] ?? 0);
const body = '{"hello":"world"}';
const server = createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/json", "content-length": body.length });
    res.end(body);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(port, "127.0.0.1", () => {
  const addr = server.address();
  process.stdout.write(`listening ${typeof addr === "object" && addr ? addr.port : port}\n`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
