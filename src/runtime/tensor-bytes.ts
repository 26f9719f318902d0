// Tensors as raw bytes, the layout of gRPC's raw_input_contents/raw_output_contents: row-major,
// little-endian elements, BOOL one byte each, BYTES each a 4-byte little-endian length then its bytes.
import { endianness } from "node:os";
import { DataError, ORT_TO_OIP, zeros, type OrtType, type TensorData } from "./datatypes.js";

const ELEMENT_BYTES: Record<Exclude<OrtType, "string">, number> = {
  bool: 1,
  uint8: 1,
  int8: 1,
  uint16: 2,
  int16: 2,
  float16: 2,
  uint32: 4,
  int32: 4,
  float32: 4,
  uint64: 8,
  int64: 8,
  float64: 8,
};

/** Reverses each element's bytes in place on a big-endian host (the protocol is little-endian); else a no-op. */
function swapOnBigEndian(bytes: Buffer, size: number): void {
  if (endianness() === "LE" || size === 1) return;
  if (size === 2) bytes.swap16();
  else if (size === 4) bytes.swap32();
  else bytes.swap64();
}

/**
 * Decodes the `n` elements a tensor's shape asks for from its raw bytes, into a fresh (aligned) typed
 * array. Throws DataError, naming `tensor`, when the byte count does not fit the shape and datatype.
 */
export function fromRaw(tensor: string, type: OrtType, raw: Uint8Array, n: number): TensorData {
  if (type === "string") return bytesElements(tensor, raw, n);
  const size = ELEMENT_BYTES[type];
  if (raw.byteLength !== n * size) {
    throw new DataError(
      `${tensor}: raw contents hold ${raw.byteLength} bytes, ${n} ${ORT_TO_OIP[type]} elements need ${n * size}`,
    );
  }
  const out = zeros(type, n) as Exclude<TensorData, string[]>;
  const bytes = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  bytes.set(raw);
  swapOnBigEndian(bytes, size);
  if (type === "bool") {
    // numpy and the JSON path only ever produce 0 and 1; anything else is a client bug worth naming.
    const i = (out as Uint8Array).findIndex((v) => v > 1);
    if (i >= 0) throw new DataError(`${tensor}: element ${i} is ${out[i]}, expected 0 or 1 (BOOL)`);
  }
  return out;
}

/** BYTES elements: each a 4-byte little-endian length and that many bytes, read as UTF-8 strings. */
function bytesElements(tensor: string, raw: Uint8Array, n: number): string[] {
  const buf = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  const out: string[] = [];
  let at = 0;
  while (at < buf.length) {
    if (out.length === n) {
      throw new DataError(`${tensor}: raw contents hold more than the ${n} BYTES elements its shape needs`);
    }
    if (at + 4 > buf.length) {
      throw new DataError(
        `${tensor}: raw contents end inside the length prefix of BYTES element ${out.length}`,
      );
    }
    const len = buf.readUInt32LE(at);
    at += 4;
    if (at + len > buf.length) {
      throw new DataError(
        `${tensor}: BYTES element ${out.length} declares ${len} bytes, only ${buf.length - at} remain`,
      );
    }
    out.push(buf.toString("utf8", at, at + len));
    at += len;
  }
  if (out.length !== n) {
    throw new DataError(`${tensor}: raw contents hold ${out.length} BYTES elements, its shape needs ${n}`);
  }
  return out;
}

/** A tensor's raw bytes: a view of its data on a little-endian host, else a byte-swapped copy. */
export function toRaw(type: OrtType, data: TensorData): Uint8Array {
  if (type === "string") {
    const parts = (data as string[]).map((s) => Buffer.from(s, "utf8"));
    const out = Buffer.allocUnsafe(parts.reduce((sum, p) => sum + 4 + p.length, 0));
    let at = 0;
    for (const p of parts) {
      at = out.writeUInt32LE(p.length, at);
      at += p.copy(out, at);
    }
    return out;
  }
  const typed = data as Exclude<TensorData, string[]>;
  const view = Buffer.from(typed.buffer, typed.byteOffset, typed.byteLength);
  if (endianness() === "LE") return view;
  const copy = Buffer.from(view);
  swapOnBigEndian(copy, ELEMENT_BYTES[type]);
  return copy;
}
