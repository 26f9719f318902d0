import { test } from "node:test";
import assert from "node:assert/strict";
import { toHalf, type OrtType, type TensorData } from "./datatypes.js";
import { fromRaw, toRaw } from "./tensor-bytes.js";

/** Little-endian bytes written element by element with DataView, independent of the code under test. */
function le(type: OrtType, values: readonly (number | bigint)[]): Buffer {
  const size = { int8: 1, uint8: 1, bool: 1, int16: 2, uint16: 2, float16: 2 }[type as string] ?? 0;
  const width = size || (type === "int64" || type === "uint64" || type === "float64" ? 8 : 4);
  const view = new DataView(new ArrayBuffer(values.length * width));
  values.forEach((v, i) => {
    const at = i * width;
    if (type === "float32") view.setFloat32(at, v as number, true);
    else if (type === "float64") view.setFloat64(at, v as number, true);
    else if (type === "int64") view.setBigInt64(at, v as bigint, true);
    else if (type === "uint64") view.setBigUint64(at, v as bigint, true);
    else if (width === 4) view.setUint32(at, Number(v) >>> 0, true);
    else if (width === 2) view.setUint16(at, Number(v) & 0xffff, true);
    else view.setUint8(at, Number(v) & 0xff);
  });
  return Buffer.from(view.buffer);
}

const cases: [OrtType, (number | bigint)[], TensorData][] = [
  ["float32", [1.5, -2, 3.25], Float32Array.of(1.5, -2, 3.25)],
  ["float64", [1e300, -0.1], Float64Array.of(1e300, -0.1)],
  ["float16", [toHalf(1.5), toHalf(-2)], Uint16Array.of(toHalf(1.5), toHalf(-2))],
  ["int8", [-128, 127], Int8Array.of(-128, 127)],
  ["int16", [-300, 300], Int16Array.of(-300, 300)],
  ["int32", [-70000, 70000], Int32Array.of(-70000, 70000)],
  ["int64", [-(2n ** 63n), 2n ** 53n + 1n], BigInt64Array.of(-(2n ** 63n), 2n ** 53n + 1n)],
  ["uint8", [0, 255], Uint8Array.of(0, 255)],
  ["uint16", [0, 65535], Uint16Array.of(0, 65535)],
  ["uint32", [0, 4000000000], Uint32Array.of(0, 4000000000)],
  ["uint64", [2n ** 64n - 1n], BigUint64Array.of(2n ** 64n - 1n)],
  ["bool", [1, 0], Uint8Array.of(1, 0)],
];

for (const [type, values, typed] of cases) {
  test(`${type}: raw bytes decode to the typed array and encode back`, () => {
    const raw = le(type, values);
    // From an odd offset too: protobuf hands out slices of the message buffer, aligned or not.
    const unaligned = Buffer.concat([Buffer.of(0xee), raw]).subarray(1);
    assert.deepEqual(fromRaw("t", type, unaligned, values.length), typed);
    assert.deepEqual(Buffer.from(toRaw(type, typed)), raw);
  });
}

test("BYTES: a 4-byte little-endian length before each element, UTF-8", () => {
  const raw = Buffer.concat([
    le("uint32", [6]),
    Buffer.from("héllo"),
    le("uint32", [0]),
    le("uint32", [1]),
    Buffer.from("x"),
  ]);
  assert.deepEqual(fromRaw("t", "string", raw, 3), ["héllo", "", "x"]);
  assert.deepEqual(Buffer.from(toRaw("string", ["héllo", "", "x"])), raw);
});

test("sizes that do not fit the shape are refused, naming the tensor and the numbers", () => {
  const refuses: [OrtType, Buffer, number, RegExp][] = [
    ["float32", Buffer.alloc(12), 4, /input "t": raw contents hold 12 bytes, 4 FP32 elements need 16/],
    ["int64", Buffer.alloc(16), 1, /hold 16 bytes, 1 INT64 elements need 8/],
    ["bool", Buffer.of(1, 2), 2, /element 1 is 2, expected 0 or 1 \(BOOL\)/],
    ["string", Buffer.of(1, 0), 1, /end inside the length prefix of BYTES element 0/],
    [
      "string",
      Buffer.concat([le("uint32", [5]), Buffer.from("ab")]),
      1,
      /element 0 declares 5 bytes, only 2 remain/,
    ],
    ["string", Buffer.concat([le("uint32", [0]), le("uint32", [0])]), 1, /more than the 1 BYTES elements/],
    ["string", le("uint32", [0]), 2, /hold 1 BYTES elements, its shape needs 2/],
  ];
  for (const [type, raw, n, message] of refuses) {
    assert.throws(() => fromRaw('input "t"', type, raw, n), message);
  }
});
