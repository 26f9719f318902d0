// The floor: the least a Node server can do for this request. node:http, JSON.parse of the body, a
// Float32Array, session.run inline on the main thread (no worker, no batching, no validation, no
// metrics), JSON out. Not a server to ship (probes wait behind every run): it shows how much of the gap
// between serve and "hello-world + session.run" any Node implementation of the request must pay.
import { createServer } from "node:http";
import ort from "onnxruntime-node";

const [path, portArg] = process.argv.slice(2);
const session = await ort.InferenceSession.create(path!, { intraOpNumThreads: 1, interOpNumThreads: 1 });
const output = session.outputNames[0]!;
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    if (req.method !== "POST") {
      res.writeHead(200, { "content-type": "application/json", "content-length": 14 });
      res.end('{"ready":true}');
      return;
    }
    const input = (JSON.parse(Buffer.concat(chunks).toString("utf8")) as { inputs: { data: number[] }[] })
      .inputs[0]!;
    const x = Float32Array.from(input.data);
    session.run({ input: new ort.Tensor("float32", x, [1, x.length]) }).then((out) => {
      const t = out[output]!;
      const body = JSON.stringify({
        model_name: "mlp",
        outputs: [
          { name: output, datatype: "FP32", shape: t.dims, data: Array.from(t.data as Float32Array) },
        ],
      });
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      res.end(body);
    });
  });
});
server.keepAliveTimeout = 65_000;
server.listen(Number(portArg ?? 0), "127.0.0.1");
process.on("SIGTERM", () => server.close(() => process.exit(0)));
