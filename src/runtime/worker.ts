// Inference worker thread: owns onnxruntime sessions, whose run() blocks whichever thread calls it.
import { parentPort } from "node:worker_threads";
import { performance } from "node:perf_hooks";
import ort from "onnxruntime-node";
import type { OrtType, TensorData, TensorValue } from "./datatypes.js";
import { signatureFrom } from "./signature.js";
import {
  transferList,
  type FromWorker,
  type LoadedModel,
  type SessionSettings,
  type ToWorker,
} from "./worker-protocol.js";

const port = parentPort;
if (port === null) throw new Error("runtime/worker.ts must run in a worker thread");

// onnxruntime colours its native error text; strip the escapes before the message reaches logs and probes.
const ANSI_COLOUR = new RegExp(String.fromCharCode(27) + "\\[[0-9;]*m", "g");

const sessions = new Map<string, ort.InferenceSession>();

function send(msg: FromWorker, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(msg, transfer);
}

async function create(path: string, settings: SessionSettings, provider: "cpu" | "cuda") {
  return ort.InferenceSession.create(path, {
    executionProviders: [provider],
    intraOpNumThreads: settings.intraOpThreads,
    interOpNumThreads: 1,
    graphOptimizationLevel: "all",
  });
}

async function load(models: { key: string; path: string }[], settings: SessionSettings): Promise<void> {
  const loaded: LoadedModel[] = [];
  for (const m of models) {
    const t0 = performance.now();
    let session: ort.InferenceSession;
    let provider = settings.executionProvider;
    let fallbackReason: string | undefined;
    try {
      session = await create(m.path, settings, provider);
    } catch (err) {
      const message = (err as Error).message.replace(ANSI_COLOUR, "").trim();
      if (provider !== "cuda") {
        send({ kind: "load-error", key: m.key, message });
        return;
      }
      if (!settings.allowCpuFallback) {
        send({ kind: "load-error", key: m.key, message, unavailableProvider: true });
        return;
      }
      fallbackReason = message;
      provider = "cpu";
      try {
        session = await create(m.path, settings, "cpu");
      } catch (err2) {
        send({ kind: "load-error", key: m.key, message: (err2 as Error).message });
        return;
      }
    }
    try {
      const signature = signatureFrom(session.inputMetadata, session.outputMetadata);
      sessions.set(m.key, session);
      loaded.push({ key: m.key, signature, loadMs: performance.now() - t0, provider, fallbackReason });
    } catch (err) {
      send({ kind: "load-error", key: m.key, message: (err as Error).message });
      return;
    }
  }
  send({ kind: "loaded", models: loaded });
}

function plainData(t: ort.Tensor): TensorData {
  const d = t.data as TensorData;
  if (Array.isArray(d)) return d;
  // Copy when the view does not own its whole buffer, so the transfer moves exactly this tensor.
  if (d.byteOffset !== 0 || d.byteLength !== d.buffer.byteLength || !(d.buffer instanceof ArrayBuffer)) {
    return d.slice() as TensorData;
  }
  return d;
}

async function run(id: number, key: string, feeds: Record<string, TensorValue>): Promise<void> {
  const session = sessions.get(key);
  if (session === undefined) {
    send({ kind: "error", id, message: `model ${key} is not loaded in this worker` });
    return;
  }
  try {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds))
      ortFeeds[name] = new ort.Tensor(t.type, t.data as never, t.dims);
    const t0 = performance.now();
    // Run errors go back to the caller (and the client); onnxruntime's own stderr copy would be noise.
    const result = await session.run(ortFeeds, { logSeverityLevel: 4 });
    const computeMs = performance.now() - t0;
    const outputs: Record<string, TensorValue> = {};
    for (const [name, t] of Object.entries(result)) {
      outputs[name] = { type: t.type as OrtType, dims: [...t.dims], data: plainData(t as ort.Tensor) };
    }
    send({ kind: "result", id, outputs, computeMs }, transferList(outputs));
  } catch (err) {
    send({ kind: "error", id, message: (err as Error).message });
  }
}

port.on("message", (msg: ToWorker) => {
  if (msg.kind === "load") void load(msg.models, msg.settings);
  else void run(msg.id, msg.key, msg.feeds);
});
