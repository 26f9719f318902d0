import { describe as suite, test } from "node:test";
import assert from "node:assert/strict";
import type { TensorValue } from "./datatypes.js";
import {
  decodeV1,
  decodeV2,
  encodeV2,
  encodeV2Binary,
  HttpError,
  parseJson,
  splitBody,
  type DecodedRequest,
} from "./protocol.js";
import { quote } from "./quote.js";
import type { Signature } from "./signature.js";

const mlp: Signature = {
  inputs: [{ name: "input", type: "float32", shape: [-1, 4] }],
  outputs: [
    { name: "output", type: "float32", shape: [-1, 2] },
    { name: "label", type: "int64", shape: [-1] },
  ],
};
const mixed: Signature = {
  inputs: [
    { name: "flags", type: "uint8", shape: [-1, 3] },
    { name: "x", type: "float32", shape: [-1, 2] },
    { name: "text", type: "string", shape: [-1] },
  ],
  outputs: [{ name: "y", type: "float32", shape: [-1, 2] }],
};
const scalar: Signature = {
  inputs: [
    { name: "x", type: "float32", shape: [-1, 2] },
    { name: "scale", type: "float32", shape: [] },
  ],
  outputs: [{ name: "y", type: "float32", shape: [-1, 2] }],
};

/** The error message decoding fails with (400s only). */
function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof HttpError, String(err));
    assert.equal(err.status, 400);
    return err.message;
  }
  assert.fail("expected a 400");
}

const f32 = (...v: number[]) => Buffer.from(Float32Array.from(v).buffer);
const bytesElement = (s: string) => {
  const b = Buffer.from(s);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(b.length);
  return Buffer.concat([len, b]);
};

suite("binary tensor data extension: requests", () => {
  test("inputs take their bytes in order; an unaligned offset still yields aligned, owned arrays", () => {
    const binary = Buffer.concat([
      Buffer.from([1, 0, 1]),
      f32(1.5, -2, 3.25, 1e-30),
      bytesElement("héllo"),
      bytesElement(""),
    ]);
    const d = decodeV2(
      {
        inputs: [
          { name: "flags", datatype: "UINT8", shape: [1, 3], parameters: { binary_data_size: 3 } },
          { name: "x", datatype: "FP32", shape: [2, 2], parameters: { binary_data_size: 16 } },
          { name: "text", datatype: "BYTES", shape: [2], parameters: { binary_data_size: 14 } },
        ],
      },
      mixed,
      false,
      binary,
    );
    const x = d.feeds.x!.data as Float32Array;
    assert.deepEqual([...x], [1.5, -2, 3.25, Math.fround(1e-30)]);
    // Its own buffer, exactly its size: safe to transfer to a worker without detaching the body.
    assert.equal(x.byteOffset, 0);
    assert.equal(x.buffer.byteLength, 16);
    assert.deepEqual([...(d.feeds.flags!.data as Uint8Array)], [1, 0, 1]);
    assert.deepEqual(d.feeds.text!.data, ["héllo", ""]);
  });

  test("JSON and binary inputs mix in one request", () => {
    const d = decodeV2(
      {
        inputs: [
          { name: "flags", datatype: "UINT8", shape: [1, 3], data: [1, 2, 3] },
          { name: "x", datatype: "FP32", shape: [1, 2], parameters: { binary_data_size: 8 } },
          { name: "text", datatype: "BYTES", shape: [1], data: ["a"] },
        ],
      },
      mixed,
      false,
      f32(7, 8),
    );
    assert.deepEqual([...(d.feeds.x!.data as Float32Array)], [7, 8]);
    assert.deepEqual([...(d.feeds.flags!.data as Uint8Array)], [1, 2, 3]);
  });

  test("sizes are checked strictly, with messages that name the input and the fix", () => {
    const x = (params: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
      inputs: [{ name: "input", datatype: "FP32", shape: [1, 4], parameters: params, ...extra }],
    });
    const cases: [unknown, Buffer | undefined, RegExp][] = [
      [
        x({ binary_data_size: 12 }),
        f32(1, 2, 3),
        /input "input" has binary_data_size 12, shape \[1,4\] of FP32 needs 16 bytes/,
      ],
      [x({ binary_data_size: 16 }), f32(1, 2, 3), /binary_data_size 16, but only 12 of the 12 bytes/],
      [
        x({ binary_data_size: 16 }),
        f32(1, 2, 3, 4, 5),
        /20 bytes after the JSON part, but the inputs' binary_data_size add up to 16/,
      ],
      [x({ binary_data_size: 16 }), undefined, /no Inference-Header-Content-Length header/],
      [
        x({ binary_data_size: 16 }, { data: [1, 2, 3, 4] }),
        f32(1, 2, 3, 4),
        /both "data" and parameters.binary_data_size/,
      ],
      [x({ binary_data_size: -1 }), f32(), /binary_data_size must be a byte count, got -1/],
      [x({ binary_data_size: "16" }), f32(1, 2, 3, 4), /binary_data_size must be a byte count, got "16"/],
      [x({}), undefined, /input "input" needs "data", or parameters.binary_data_size/],
      [x({ shared_memory_region: "r" }), undefined, /shared memory is not supported/],
      // A JSON-only request that still sends bytes after its JSON part.
      [
        { inputs: [{ name: "input", datatype: "FP32", shape: [1, 4], data: [1, 2, 3, 4] }] },
        f32(1),
        /4 bytes after the JSON part, but the inputs' binary_data_size add up to 0/,
      ],
      // The shape is checked before the bytes, so a huge shape allocates nothing.
      [
        {
          inputs: [
            { name: "input", datatype: "FP32", shape: [1e9, 4], parameters: { binary_data_size: 16 } },
          ],
        },
        f32(1, 2, 3, 4),
        /shape \[1000000000,4\] of FP32 needs 16000000000 bytes/,
      ],
    ];
    for (const [body, binary, re] of cases)
      assert.match(
        refusal(() => decodeV2(body, mlp, true, binary)),
        re,
      );
    const text = (binary: Buffer, n = 2) =>
      refusal(() =>
        decodeV2(
          {
            inputs: [
              { name: "flags", datatype: "UINT8", shape: [1, 3], data: [1, 2, 3] },
              { name: "x", datatype: "FP32", shape: [1, 2], data: [1, 2] },
              {
                name: "text",
                datatype: "BYTES",
                shape: [n],
                parameters: { binary_data_size: binary.length },
              },
            ],
          },
          mixed,
          false,
          binary,
        ),
      );
    assert.match(text(bytesElement("abc")), /input "text".*1 BYTES elements, its shape needs 2/);
    assert.match(
      text(Buffer.concat([bytesElement("abc"), Buffer.from([9, 0, 0, 0, 1])])),
      /declares 9 bytes, only 1 remain/,
    );
    // A shape far beyond what the bytes could hold is refused without allocating per element.
    assert.match(text(bytesElement("abc"), 1e9), /input "text"/);
  });

  test("BOOL bytes must be 0 or 1", () => {
    const sig: Signature = { inputs: [{ name: "b", type: "bool", shape: [2] }], outputs: [] };
    const body = {
      inputs: [{ name: "b", datatype: "BOOL", shape: [2], parameters: { binary_data_size: 2 } }],
    };
    assert.deepEqual(
      [...(decodeV2(body, sig, false, Buffer.from([0, 1])).feeds.b!.data as Uint8Array)],
      [0, 1],
    );
    assert.match(
      refusal(() => decodeV2(body, sig, false, Buffer.from([0, 2]))),
      /element 1 is 2, expected 0 or 1/,
    );
  });

  test("splitBody: the header gives the JSON part's length", () => {
    const raw = Buffer.from('{"a":1}xyz');
    assert.deepEqual(splitBody(raw, undefined), { json: raw });
    const { json, binary } = splitBody(raw, "7");
    assert.equal(json.toString(), '{"a":1}');
    assert.equal(binary!.toString(), "xyz");
    assert.equal(splitBody(raw, "10").binary!.length, 0);
    for (const bad of ["0", "11", "-1", "abc", "7, 7", "1e3", ""]) {
      assert.match(
        refusal(() => splitBody(raw, bad)),
        /Inference-Header-Content-Length must be the byte length/,
      );
    }
  });
});

suite("binary tensor data extension: responses", () => {
  const outputs: Record<string, TensorValue> = {
    output: { type: "float32", dims: [1, 2], data: Float32Array.from([0.1, -3]) },
    label: { type: "int64", dims: [1], data: BigInt64Array.from([2n ** 60n]) },
  };
  const decode = (body: unknown) => decodeV2(body, mlp, true, undefined);
  const input = { name: "input", datatype: "FP32", shape: [1, 4], data: [1, 2, 3, 4] };

  test("which outputs go binary: request default, per-output flag, a named output's flag wins", () => {
    const cases: [Record<string, unknown>, Partial<DecodedRequest>][] = [
      [{}, {}],
      [{ parameters: { binary_data_output: true } }, { binaryOutputs: ["output", "label"] }],
      [{ parameters: { binary_data_output: false } }, {}],
      [
        { outputs: [{ name: "label", parameters: { binary_data: true } }] },
        { outputs: ["label"], binaryOutputs: ["label"] },
      ],
      [
        {
          parameters: { binary_data_output: true },
          outputs: [{ name: "output" }, { name: "label", parameters: { binary_data: false } }],
        },
        { outputs: ["output", "label"], binaryOutputs: ["output"] },
      ],
      [{ outputs: [{ name: "output", parameters: { binary_data: false } }] }, { outputs: ["output"] }],
    ];
    for (const [extra, want] of cases) {
      const d = decode({ inputs: [input], ...extra });
      assert.deepEqual(
        { outputs: d.outputs, binaryOutputs: d.binaryOutputs },
        { outputs: undefined, binaryOutputs: undefined, ...want },
        JSON.stringify(extra),
      );
    }
    assert.match(
      refusal(() => decode({ inputs: [input], parameters: { binary_data_output: "yes" } })),
      /binary_data_output must be true or false/,
    );
    assert.match(
      refusal(() =>
        decode({ inputs: [input], outputs: [{ name: "label", parameters: { classification: 2 } }] }),
      ),
      /output "label": the classification extension is not supported/,
    );
    assert.match(
      refusal(() => decode({ inputs: [input], parameters: [] })),
      /"parameters" must be an object/,
    );
  });

  test("the JSON part lists binary outputs by size; their raw bytes follow in the same order", () => {
    const { body, jsonLength } = encodeV2Binary("m", "1", "r1", mlp, outputs, undefined, ["label", "output"]);
    const header = JSON.parse(body.subarray(0, jsonLength).toString()) as Record<string, unknown>;
    assert.deepEqual(header, {
      model_name: "m",
      model_version: "1",
      id: "r1",
      outputs: [
        { name: "output", datatype: "FP32", shape: [1, 2], parameters: { binary_data_size: 8 } },
        { name: "label", datatype: "INT64", shape: [1], parameters: { binary_data_size: 8 } },
      ],
    });
    assert.equal(body.length, jsonLength + 16);
    assert.deepEqual(
      body.subarray(jsonLength, jsonLength + 8),
      Buffer.from(Float32Array.from([0.1, -3]).buffer),
    );
    assert.equal(body.readBigInt64LE(jsonLength + 8), 2n ** 60n);
    // An output not asked for as binary stays JSON, beside the binary one.
    const half = encodeV2Binary("m", "1", undefined, mlp, outputs, ["label", "output"], ["output"]);
    const h = JSON.parse(half.body.subarray(0, half.jsonLength).toString()) as { outputs: unknown[] };
    assert.deepEqual(h.outputs[1], {
      name: "label",
      datatype: "INT64",
      shape: [1],
      data: [1152921504606846976],
    });
    assert.equal(half.body.length, half.jsonLength + 8);
    // Without binary outputs the JSON is what encodeV2 writes.
    const none = encodeV2Binary("m", "1", undefined, mlp, outputs, undefined, []);
    assert.equal(none.body.toString(), encodeV2("m", "1", undefined, mlp, outputs));
  });

  test("BYTES outputs are length-prefixed", () => {
    const sig: Signature = { inputs: [], outputs: [{ name: "s", type: "string", shape: [-1] }] };
    const { body, jsonLength } = encodeV2Binary(
      "m",
      "1",
      undefined,
      sig,
      { s: { type: "string", dims: [2], data: ["hé", ""] } },
      undefined,
      ["s"],
    );
    assert.deepEqual(body.subarray(jsonLength), Buffer.concat([bytesElement("hé"), bytesElement("")]));
  });
});

suite("hardening", () => {
  test("deep nesting is refused before parsing, naming the limit", () => {
    const deep = "[".repeat(100_000) + "]".repeat(100_000);
    for (const text of [
      `{"inputs":[{"name":"input","datatype":"FP32","shape":[1,4],"data":${deep}}]}`,
      `{"instances":${deep}}`,
      `{"inputs":[],"ignored":${deep}}`,
    ]) {
      assert.match(
        refusal(() => parseJson(Buffer.from(text))),
        /deeper than 64 levels \(at byte \d+\)/,
      );
    }
    // Exactly at the limit is fine.
    assert.deepEqual(
      parseJson(Buffer.from("[".repeat(64) + "]".repeat(64))),
      JSON.parse("[".repeat(64) + "]".repeat(64)),
    );
  });

  test("error messages quote at most ~200 characters of a client's value", () => {
    const huge = "x".repeat(1_000_000);
    const messages = [
      refusal(() =>
        decodeV2(
          { inputs: [{ name: huge, datatype: "FP32", shape: [1, 4], data: [1, 2, 3, 4] }] },
          mlp,
          true,
        ),
      ),
      refusal(() =>
        decodeV2(
          { inputs: [{ name: "input", datatype: huge, shape: [1, 4], data: [1, 2, 3, 4] }] },
          mlp,
          true,
        ),
      ),
      refusal(() =>
        decodeV2(
          { inputs: [{ name: "input", datatype: "FP32", shape: [1, 4], data: [huge, 2, 3, 4] }] },
          mlp,
          true,
        ),
      ),
      refusal(() =>
        decodeV2(
          {
            inputs: [{ name: "input", datatype: "FP32", shape: [1, 4], data: [1, 2, 3, 4] }],
            outputs: [{ name: huge }],
          },
          mlp,
          true,
        ),
      ),
      refusal(() =>
        decodeV2(
          { inputs: [{ name: "input", datatype: "FP32", shape: [1, 4], data: [{ a: huge }, 2, 3, 4] }] },
          mlp,
          true,
        ),
      ),
      refusal(() => parseJson(Buffer.from(`{"a": "${huge}" x}`))),
    ];
    for (const m of messages) {
      assert.ok(m.length < 600, `${m.length} chars: ${m.slice(0, 300)}`);
      assert.match(m, /…\(\d+ bytes\)|not valid JSON/);
    }
    assert.equal(quote("short"), '"short"');
    assert.equal(quote(undefined), "undefined");
  });

  test("a shape far larger than its data is refused before anything is allocated", () => {
    const t0 = performance.now();
    const m = refusal(() =>
      decodeV2(
        { inputs: [{ name: "input", datatype: "FP32", shape: [100_000_000, 4], data: [1, 2, 3, 4] }] },
        mlp,
        true,
      ),
    );
    assert.match(m, /has 4 data elements, shape \[100000000,4\] needs 400000000/);
    assert.ok(performance.now() - t0 < 100);
  });

  test("finite numbers that overflow FP32 or FP16 are refused, naming the input and element", () => {
    const body = (datatype: string, v: number) => ({
      inputs: [{ name: "input", datatype, shape: [1, 4], data: [0, 1, v, 2] }],
    });
    assert.match(
      refusal(() => decodeV2(body("FP32", 1e39), mlp, true)),
      /input "input": element 2 is 1e\+39, expected an FP32 number/,
    );
    assert.match(
      refusal(() => decodeV2(body("FP32", -1e39), mlp, true)),
      /element 2 is -1e\+39/,
    );
    // Just above FLT_MAX but rounding down to it is a float32 like any other.
    const max = decodeV2(body("FP32", 3.4028235e38), mlp, true).feeds.input!.data as Float32Array;
    assert.equal(max[2], 3.4028234663852886e38);
    const half: Signature = { inputs: [{ name: "input", type: "float16", shape: [-1, 4] }], outputs: [] };
    assert.match(
      refusal(() => decodeV2(body("FP16", 70000), half, true)),
      /element 2 is 70000, expected an FP16 number/,
    );
    assert.ok(decodeV2(body("FP16", 65504), half, true));
  });

  test("v1: a rank-0 input takes one value for the whole request, without a row dimension", () => {
    const d = decodeV1(
      {
        instances: [
          { x: [1, 2], scale: 0.5 },
          { x: [3, 4], scale: 0.5 },
        ],
      },
      scalar,
      false,
    );
    assert.deepEqual(d.feeds.scale, { type: "float32", dims: [], data: Float32Array.from([0.5]) });
    assert.deepEqual(d.feeds.x!.dims, [2, 2]);
    assert.match(
      refusal(() =>
        decodeV1(
          {
            instances: [
              { x: [1, 2], scale: 0.5 },
              { x: [3, 4], scale: 2 },
            ],
          },
          scalar,
          false,
        ),
      ),
      /input "scale" \(FP32 \[\]\) is a scalar, one value for the whole request, but instance 1 gives 2 and instance 0 gives 0.5/,
    );
    assert.match(
      refusal(() => decodeV1({ instances: [{ x: [1, 2], scale: [0.5] }] }, scalar, false)),
      /is a scalar; give each instance a single value, not \[0.5\]/,
    );
  });
});
