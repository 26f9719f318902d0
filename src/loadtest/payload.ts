// What a load test sends: requests made up from the model's input signature, or recorded ones replayed.
// Pure: metadata or file text in, request bodies out.

/** One input of GET /v2/models/NAME (Open Inference Protocol v2 model metadata). */
export interface InputMetadata {
  name: string;
  datatype: string;
  shape: number[];
}

/** A v2 inference request body. */
export interface V2Request {
  inputs: { name: string; datatype: string; shape: number[]; data: unknown[] }[];
}

/** A small deterministic generator, so a run's synthetic payloads are the same on every try. */
export function seeded(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

/** A random value of a v2 datatype: floats in [0, 1), integers 0..9, booleans, short strings. */
function value(datatype: string, rand: () => number): unknown {
  const r = rand();
  if (datatype === "BOOL") return r < 0.5;
  if (datatype === "BYTES") return `x${Math.floor(r * 1000)}`;
  if (datatype.startsWith("FP")) return Math.round(r * 1e6) / 1e6;
  return Math.floor(r * 10);
}

/**
 * A request for the model's inputs: each dynamic dimension (-1, or a name) becomes `batchSize` when it is the
 * first, else 1.
 *
 *   syntheticRequest([{ name: "input", datatype: "FP32", shape: [-1, 4] }], 2, rand)
 *     -> { inputs: [{ name: "input", datatype: "FP32", shape: [2, 4], data: [8 numbers] }] }
 */
export function syntheticRequest(inputs: InputMetadata[], batchSize: number, rand: () => number): V2Request {
  if (inputs.length === 0)
    throw new Error("the model's metadata lists no inputs: nothing to make up a request from");
  return {
    inputs: inputs.map((i) => {
      const shape = i.shape.map((d, k) => (typeof d === "number" && d >= 0 ? d : k === 0 ? batchSize : 1));
      const n = shape.reduce((a, b) => a * b, 1);
      if (n > 1_000_000)
        throw new Error(
          `input "${i.name}" of shape [${shape.join(",")}] is too large to make up (${n} values)`,
        );
      return {
        name: i.name,
        datatype: i.datatype,
        shape,
        data: Array.from({ length: n }, () => value(i.datatype, rand)),
      };
    }),
  };
}

/** The inputs of the metadata document GET /v2/models/NAME answers. */
export function inputsOf(metadata: unknown): InputMetadata[] {
  const inputs = (metadata as { inputs?: unknown })?.inputs;
  if (!Array.isArray(inputs)) throw new Error("the model's metadata has no inputs list");
  return inputs.map((i: { name?: unknown; datatype?: unknown; shape?: unknown }) => {
    if (typeof i?.name !== "string" || typeof i.datatype !== "string" || !Array.isArray(i.shape))
      throw new Error(
        `the model's metadata has an input without name, datatype and shape: ${JSON.stringify(i)}`,
      );
    return {
      name: i.name,
      datatype: i.datatype,
      shape: i.shape.map((d) => (typeof d === "number" ? d : -1)),
    };
  });
}

/**
 * Recorded requests from NDJSON: each line a v2 request body ({"inputs": [...]}) or an InferenceEvent whose
 * `data.request` (or `request`) holds one. Lines without a request (an event whose payload was not kept) are
 * skipped; a file with none at all is an error naming the file's first line.
 */
export function recordedRequests(text: string): string[] {
  const out: string[] = [];
  let first: string | undefined;
  const lines = text.split("\n");
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!.trim();
    if (line === "") continue;
    first ??= line.slice(0, 120);
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch (err) {
      throw new Error(`line ${n + 1} is not JSON: ${(err as Error).message}`);
    }
    const data = o.data as Record<string, unknown> | undefined;
    const req = [o, data?.request, o.request].find(
      (c): c is { inputs: unknown[] } & Record<string, unknown> =>
        typeof c === "object" && c !== null && Array.isArray((c as { inputs?: unknown }).inputs),
    );
    if (!req) continue;
    out.push(
      JSON.stringify({ inputs: req.inputs, ...(req.parameters ? { parameters: req.parameters } : {}) }),
    );
  }
  if (out.length === 0)
    throw new Error(
      `no request found: each line must be a v2 request body {"inputs": [...]} or an InferenceEvent with data.request${first ? `; the first line is ${first}` : ""}`,
    );
  return out;
}
