import assert from "node:assert/strict";
import { test } from "node:test";
import { buildInferenceEvent, inferenceEventLine, type EventConfig, type Exchange } from "./build.js";
import { EventLineWriter } from "./line.js";
import { parseRedactPaths } from "./redact.js";

const cfg: EventConfig = {
  model: "m",
  revision: "r",
  variant: "stable",
  features: [
    { name: "a", type: "numeric" },
    { name: "b", type: "numeric" },
    { name: "c", type: "numeric" },
  ],
  redact: [],
  headerAllowlist: [],
  maxPayloadBytes: 1 << 20,
  sampleRate: 1,
};

function ex(request: string, response: string | undefined, over: Partial<Exchange> = {}): Exchange {
  return {
    id: "e1",
    time: new Date("2026-01-02T03:04:05.678Z"),
    path: "/v2/models/m/infer",
    protocol: "v2",
    requestHeaders: ["x-request-id", "r1"],
    requestBody: Buffer.from(request),
    status: 200,
    ...(response !== undefined ? { responseBody: Buffer.from(response) } : {}),
    latencyMs: 1.5,
    fallback: false,
    ...over,
  };
}

const f32 = [0.8414999842643738, -0.958899974822998, 1e-7, 3, -0, 12345678.9];
const cases: [string, Exchange, EventConfig?][] = [
  [
    "2-D input, float32 output: features and predictions from copied text",
    ex(
      JSON.stringify({ inputs: [{ name: "x", datatype: "FP32", shape: [2, 3], data: f32 }] }),
      JSON.stringify({ outputs: [{ name: "y", datatype: "FP32", shape: [2, 3], data: f32 }] }),
    ),
  ],
  [
    "whitespace, exponents and 1.0 vs 1 in the text",
    ex(
      '{ "inputs" : [ { "name":"x","datatype":"FP64","shape":[1,3], "data" : [ 1.0 , 2E3,\n-0.5e-2 ] } ] }',
      '{"outputs":[{"name":"y","datatype":"FP64","shape":[1,3],"data":[1.50,2,3]}]}',
    ),
  ],
  [
    "a decoy data key in parameters before the real one, and a duplicate data key",
    ex(
      '{"inputs":[{"name":"x","parameters":{"data":[9,9,9]},"datatype":"FP32","shape":[1,3],"data":[1,2,3]}]}',
      '{"outputs":[{"name":"y","datatype":"FP32","shape":[1,3],"data":[7,7,7],"data":[4,5,6]}]}',
    ),
  ],
  [
    "nested data, strings and booleans are left to JSON.stringify",
    ex(
      '{"inputs":[{"name":"x","datatype":"FP32","shape":[1,3],"data":[[1,2,3]]},{"name":"s","datatype":"BYTES","shape":[2],"data":["a,b","c"]}]}',
      '{"outputs":[{"name":"y","datatype":"BOOL","shape":[1,3],"data":[true,false,true]}]}',
    ),
  ],
  [
    "named tensors per feature, several outputs",
    ex(
      '{"inputs":[{"name":"a","datatype":"FP32","shape":[2],"data":[1.25,2]},{"name":"b","datatype":"INT64","shape":[2,1],"data":[3,4]},{"name":"c","datatype":"FP32","shape":[2],"data":[0.1,0.2]}]}',
      '{"id":"x","outputs":[{"name":"p","datatype":"FP32","shape":[2],"data":[0.30000001192092896,0.7]},{"name":"q","datatype":"FP32","shape":[2],"data":[1,2]}]}',
    ),
  ],
  [
    "a string that starts like a placeholder stays a string",
    ex(
      '{"id":"@ms0000:0","parameters":{"note":"@ms"},"inputs":[{"name":"x","datatype":"FP32","shape":[1,3],"data":[1,2,3]}]}',
      '{"outputs":[{"name":"y","datatype":"FP32","shape":[1,3],"data":[1,2,3]}]}',
    ),
  ],
  [
    "redaction and truncation",
    ex(
      '{"inputs":[{"name":"x","datatype":"FP32","shape":[1,3],"data":[1,2,3]}]}',
      '{"outputs":[{"name":"y","datatype":"FP32","shape":[1,3],"data":[1,2,3]},{"name":"z","datatype":"FP32","shape":[1],"data":[5]}]}',
    ),
    { ...cfg, redact: parseRedactPaths(["inputs.x", "outputs.y"]) },
  ],
  [
    "errors and malformed answers",
    ex('{"inputs":[{"name":"x","datatype":"FP32","shape":[1,3],"data":[1,2,3]}]}', "<html>", { status: 200 }),
  ],
  [
    "KServe v1",
    ex('{"instances":[[1,2,3],[4,5,6]]}', '{"predictions":[0.5,0.25]}', {
      protocol: "v1",
      path: "/v1/models/m:predict",
    }),
  ],
];

test("the event line is the same JSON value as JSON.stringify of the event", () => {
  for (const [name, exchange, config] of cases) {
    const c = config ?? cfg;
    const want: unknown = JSON.parse(JSON.stringify(buildInferenceEvent(exchange, c)));
    const line = inferenceEventLine(exchange, c, new EventLineWriter(c.features));
    assert.deepEqual(JSON.parse(line), want, name);
  }
});

test("features and predictions are written by the fast path, keys in the order readers rely on", () => {
  const line = inferenceEventLine(cases[0]![1], cfg, new EventLineWriter(cfg.features));
  assert.match(
    line,
    /"features":\[\{"a":0\.8414999842643738,"b":-0\.958899974822998,"c":1e-7\},\{"a":3,"b":0,"c":12345678\.9\}\]/,
  );
  assert.match(
    line,
    /"predictions":\[\[0\.8414999842643738,-0\.958899974822998,1e-7\],\[3,0,12345678\.9\]\]/,
  );
  // partition.ts reads the first keys without parsing
  assert.match(line, /^\{"specversion":"1\.0","id":"e1","source":"modelship\/m\/r","subject":"m","type":/);
});

test("request numbers go in as the client wrote them; a text that does not match the data is not used", () => {
  const line = inferenceEventLine(cases[1]![1], cfg, new EventLineWriter(cfg.features));
  assert.match(line, /"data":\[1\.0,2E3,-0\.5e-2\]/);
  const event = buildInferenceEvent(cases[1]![1], cfg);
  const writer = new EventLineWriter(cfg.features);
  // a text with a different count of numbers (a reader's mistake) is ignored, never trusted
  assert.match(writer.line(event, "v2", ["[9,9]"]), /"data":\[1,2000,-0\.005\]/);
});
