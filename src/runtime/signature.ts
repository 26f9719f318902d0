// What a loaded model takes and returns, read from the session's metadata in the worker.
import type { OrtType } from "./datatypes.js";

/** One input or output: fixed dims are numbers, dynamic dims are -1 (the protocol's spelling). */
export interface TensorSpec {
  name: string;
  type: OrtType;
  shape: number[];
}

export interface Signature {
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}

interface OrtValueMetadata {
  name: string;
  isTensor: boolean;
  type?: string;
  shape?: ReadonlyArray<number | string>;
}

/** Builds the signature from onnxruntime's metadata; non-tensor values (sequences, maps) are refused by name. */
export function signatureFrom(
  inputs: readonly OrtValueMetadata[],
  outputs: readonly OrtValueMetadata[],
): Signature {
  const convert = (m: OrtValueMetadata, kind: string): TensorSpec => {
    if (!m.isTensor || m.type === undefined) {
      throw new Error(`${kind} "${m.name}" is not a tensor (sequences and maps are not supported)`);
    }
    return {
      name: m.name,
      type: m.type as OrtType,
      shape: (m.shape ?? []).map((d) => (typeof d === "number" && d >= 0 ? d : -1)),
    };
  };
  return {
    inputs: inputs.map((m) => convert(m, "input")),
    outputs: outputs.map((m) => convert(m, "output")),
  };
}

/**
 * A model can be batched along dimension 0 only when every input and output has a dynamic first
 * dimension: then requests are concatenated on it and results split back by row counts.
 */
export function isBatchable(sig: Signature): boolean {
  const all = [...sig.inputs, ...sig.outputs];
  return all.length > 0 && all.every((t) => t.shape.length > 0 && t.shape[0] === -1);
}
