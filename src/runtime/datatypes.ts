// Open Inference Protocol datatypes <-> onnxruntime tensor types, and JSON values <-> typed arrays.
import { quote } from "./quote.js";

/** onnxruntime-node tensor element types this server accepts and returns. */
export type OrtType =
  | "bool"
  | "uint8"
  | "uint16"
  | "uint32"
  | "uint64"
  | "int8"
  | "int16"
  | "int32"
  | "int64"
  | "float16"
  | "float32"
  | "float64"
  | "string";

export type OipDatatype =
  | "BOOL"
  | "UINT8"
  | "UINT16"
  | "UINT32"
  | "UINT64"
  | "INT8"
  | "INT16"
  | "INT32"
  | "INT64"
  | "FP16"
  | "FP32"
  | "FP64"
  | "BYTES";

export const ORT_TO_OIP: Record<OrtType, OipDatatype> = {
  bool: "BOOL",
  uint8: "UINT8",
  uint16: "UINT16",
  uint32: "UINT32",
  uint64: "UINT64",
  int8: "INT8",
  int16: "INT16",
  int32: "INT32",
  int64: "INT64",
  float16: "FP16",
  float32: "FP32",
  float64: "FP64",
  string: "BYTES",
};

export const OIP_TO_ORT = Object.fromEntries(Object.entries(ORT_TO_OIP).map(([k, v]) => [v, k])) as Record<
  OipDatatype,
  OrtType
>;

export function isOrtType(t: string): t is OrtType {
  return Object.hasOwn(ORT_TO_OIP, t);
}

export type TensorData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array
  | string[];

/** A tensor as it crosses the worker boundary: plain, transferable data. */
export interface TensorValue {
  type: OrtType;
  dims: number[];
  data: TensorData;
}

/** Thrown for a JSON value that does not fit the tensor's type; the message names the tensor. */
export class DataError extends Error {
  override name = "DataError";
}

const INT_RANGES: Partial<Record<OrtType, [number, number]>> = {
  int8: [-128, 127],
  int16: [-32768, 32767],
  int32: [-2147483648, 2147483647],
  uint8: [0, 255],
  uint16: [0, 65535],
  uint32: [0, 4294967295],
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  uint64: [0, Number.MAX_SAFE_INTEGER],
};

/** The largest finite values; larger finite inputs round to infinity. */
const FP32_MAX = 3.4028234663852886e38;
const FP16_MAX = 65504;

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** IEEE 754 binary32 -> binary16 bits, round to nearest even. */
export function toHalf(value: number): number {
  F32[0] = value;
  const x = U32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  e = half >>> 10;
  return sign | half;
}

/** binary16 bits -> number. */
export function fromHalf(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

function allocate(type: OrtType, n: number): TensorData {
  switch (type) {
    case "float32":
      return new Float32Array(n);
    case "float64":
      return new Float64Array(n);
    case "float16":
    case "uint16":
      return new Uint16Array(n);
    case "int8":
      return new Int8Array(n);
    case "int16":
      return new Int16Array(n);
    case "int32":
      return new Int32Array(n);
    case "int64":
      return new BigInt64Array(n);
    case "uint8":
    case "bool":
      return new Uint8Array(n);
    case "uint32":
      return new Uint32Array(n);
    case "uint64":
      return new BigUint64Array(n);
    case "string":
      return new Array<string>(n);
  }
}

/** Converts flat JSON values into the typed array for `type`, rejecting values that do not fit. */
export function fromJson(tensor: string, type: OrtType, values: readonly unknown[]): TensorData {
  const n = values.length;
  const bad = (i: number, want: string) =>
    new DataError(`input "${tensor}": element ${i} is ${quote(values[i])}, expected ${want}`);
  if (type === "float64") {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (typeof v !== "number") throw bad(i, "a number");
      out[i] = v;
    }
    return out;
  }
  if (type === "float32") {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (typeof v !== "number") throw bad(i, "a number");
      out[i] = v;
      // A finite number that rounds to infinity is a client bug, not a value to run the model on.
      if (!Number.isFinite(out[i]!) && Number.isFinite(v))
        throw bad(i, `an FP32 number (|x| <= ${FP32_MAX})`);
    }
    return out;
  }
  if (type === "float16") {
    const out = new Uint16Array(n);
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (typeof v !== "number") throw bad(i, "a number");
      const h = toHalf(v);
      if ((h & 0x7fff) === 0x7c00 && Number.isFinite(v)) throw bad(i, `an FP16 number (|x| <= ${FP16_MAX})`);
      out[i] = h;
    }
    return out;
  }
  if (type === "bool") {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (v === true || v === 1) out[i] = 1;
      else if (v !== false && v !== 0) throw bad(i, "true or false");
    }
    return out;
  }
  if (type === "string") {
    const out = new Array<string>(n);
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (typeof v !== "string") throw bad(i, "a string");
      out[i] = v;
    }
    return out;
  }
  const [lo, hi] = INT_RANGES[type]!;
  const out = allocate(type, n);
  const big = type === "int64" || type === "uint64";
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (typeof v !== "number" || !Number.isInteger(v) || v < lo || v > hi)
      throw bad(i, `an integer in [${lo}, ${hi}]`);
    if (big) (out as BigInt64Array)[i] = BigInt(v);
    else (out as Int32Array)[i] = v;
  }
  return out;
}

/** Serialises tensor data as a JSON array text: int64 stays exact, non-finite floats become null. */
export function toJsonArray(type: OrtType, data: TensorData): string {
  if (type === "string") return JSON.stringify(data);
  if (type === "bool")
    return "[" + Array.from(data as Uint8Array, (v) => (v ? "true" : "false")).join(",") + "]";
  if (type === "float16")
    return "[" + Array.from(data as Uint16Array, (h) => finite(fromHalf(h))).join(",") + "]";
  if (type === "float32" || type === "float64") {
    const d = data as Float32Array;
    let s = "[";
    for (let i = 0; i < d.length; i++) {
      if (i > 0) s += ",";
      s += finite(d[i]!);
    }
    return s + "]";
  }
  return "[" + (data as Int32Array).join(",") + "]";
}

function finite(v: number): string {
  return Number.isFinite(v) ? String(v) : "null";
}

/** Plain JS values (numbers, booleans, strings) for one slice of a tensor, for the v1 and batch outputs. */
export function toPlain(type: OrtType, data: TensorData, start = 0, end = data.length): unknown[] {
  const out: unknown[] = new Array(end - start);
  for (let i = start; i < end; i++) {
    const v = data[i]!;
    out[i - start] =
      type === "bool"
        ? v === 1
        : type === "float16"
          ? fromHalf(v as number)
          : typeof v === "bigint"
            ? Number(v)
            : typeof v === "number" && !Number.isFinite(v)
              ? null
              : v;
  }
  return out;
}

/** Zero-filled data, e.g. for the warm-up run. */
export function zeros(type: OrtType, n: number): TensorData {
  const d = allocate(type, n);
  if (Array.isArray(d)) d.fill("");
  return d;
}

export function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}
