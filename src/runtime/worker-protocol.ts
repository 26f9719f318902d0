// Messages between the server's main thread and its inference worker threads.
import type { TensorValue } from "./datatypes.js";
import type { Signature } from "./signature.js";

export type ExecutionProvider = "cpu" | "cuda";

export interface SessionSettings {
  /** 0 lets onnxruntime pick (one per core). */
  intraOpThreads: number;
  executionProvider: ExecutionProvider;
  allowCpuFallback: boolean;
}

export type ToWorker =
  | { kind: "load"; models: { key: string; path: string }[]; settings: SessionSettings }
  | { kind: "run"; id: number; key: string; feeds: Record<string, TensorValue> };

export interface LoadedModel {
  key: string;
  signature: Signature;
  loadMs: number;
  /** The provider the session really uses (cpu after an allowed fallback). */
  provider: ExecutionProvider;
  fallbackReason?: string;
}

export type FromWorker =
  | { kind: "loaded"; models: LoadedModel[] }
  | { kind: "load-error"; key: string; message: string; unavailableProvider?: boolean }
  | { kind: "result"; id: number; outputs: Record<string, TensorValue>; computeMs: number }
  | { kind: "error"; id: number; message: string };

/** The ArrayBuffers to transfer (not copy) with a set of tensors. */
export function transferList(tensors: Record<string, TensorValue>): ArrayBuffer[] {
  const list: ArrayBuffer[] = [];
  for (const t of Object.values(tensors)) {
    if (!Array.isArray(t.data) && t.data.buffer instanceof ArrayBuffer && !list.includes(t.data.buffer)) {
      list.push(t.data.buffer);
    }
  }
  return list;
}
