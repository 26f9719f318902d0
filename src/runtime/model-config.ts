// GET /v2/models/{name}/config: the model's configuration in Triton's JSON form, which tritonclient's
// get_model_config and tools such as perf_analyzer read. Built from the signature and the serve flags.
import { ORT_TO_OIP, type OipDatatype } from "./datatypes.js";
import type { Signature, TensorSpec } from "./signature.js";
import type { ExecutionProvider } from "./worker-protocol.js";

/** Triton's data_type names: OIP datatypes with a TYPE_ prefix, BYTES spelled STRING. */
function tritonType(t: OipDatatype): string {
  return t === "BYTES" ? "TYPE_STRING" : `TYPE_${t}`;
}

export interface ConfigSettings {
  /** Batched along dimension 0: then max_batch_size > 0 and dims leave the batch dimension out. */
  batchable: boolean;
  maxBatchSize: number;
  maxQueueDelayMs: number;
  workers: number;
  provider: ExecutionProvider;
}

function tensorConfig(spec: TensorSpec, batched: boolean) {
  const dims = batched ? spec.shape.slice(1) : spec.shape;
  const base = { name: spec.name, data_type: tritonType(ORT_TO_OIP[spec.type]) };
  // Triton cannot say dims: []; a scalar is dims [1] reshaped to [], as in its own configs.
  if (dims.length === 0) return { ...base, dims: [1], reshape: { shape: [] } };
  return { ...base, dims };
}

export function modelConfig(name: string, sig: Signature, s: ConfigSettings) {
  const batched = s.batchable && s.maxBatchSize > 1;
  return {
    name,
    platform: "onnxruntime_onnx",
    backend: "onnxruntime",
    max_batch_size: batched ? s.maxBatchSize : 0,
    input: sig.inputs.map((t) => tensorConfig(t, batched)),
    output: sig.outputs.map((t) => tensorConfig(t, batched)),
    ...(batched ? { dynamic_batching: { max_queue_delay_microseconds: s.maxQueueDelayMs * 1000 } } : {}),
    instance_group: [{ count: s.workers, kind: s.provider === "cuda" ? "KIND_GPU" : "KIND_CPU" }],
  };
}
