// The events sink both loggers ship to in the bench: `modelship logger`'s NDJSON batches
// (POST /v1/events) and the KServe agent's binary-mode CloudEvents (one POST per event, ce-id and
// ce-type headers). It keeps the ids it acknowledged and can be cut (listening socket and every
// connection closed) for a while, as a crashed sink would be. Run as a child with an IPC channel:
//   -> {cut: ms}            <- {cut: "done"} once it listens again
//   -> {ids: true}          <- {logger: string[], agentRequest: string[], agentResponse: string[]}
// Prints the port it listens on as its first line.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

const logger: string[] = [];
const agentRequest: string[] = [];
const agentResponse: string[] = [];
const ID = /"id":"([^"]+)"/;

const server = createServer((req, res) => {
  const parts: Buffer[] = [];
  req.on("data", (c: Buffer) => parts.push(c));
  req.on("end", () => {
    const ceId = req.headers["ce-id"];
    if (typeof ceId === "string") {
      const type = String(req.headers["ce-type"] ?? "");
      (type.endsWith(".response") ? agentResponse : agentRequest).push(ceId);
    } else {
      for (const line of Buffer.concat(parts).toString("utf8").split("\n")) {
        const m = ID.exec(line);
        if (m) logger.push(m[1] as string);
      }
    }
    res.writeHead(200, { "content-type": "application/json" }).end('{"accepted":true}');
  });
});

let port = 0;
server.listen(0, "127.0.0.1", () => {
  port = (server.address() as AddressInfo).port;
  console.log(port);
});

process.on("message", (msg: { cut?: number; ids?: boolean }) => {
  if (msg.cut !== undefined) {
    server.close();
    server.closeAllConnections();
    setTimeout(() => server.listen(port, "127.0.0.1", () => process.send?.({ cut: "done" })), msg.cut);
  } else if (msg.ids === true) {
    process.send?.({ logger, agentRequest, agentResponse });
  }
});
process.on("disconnect", () => process.exit(0));
