import type { InferenceData } from "./schema.js";

/**
 * Redaction paths (--redact, repeatable), applied to the event before it is spooled:
 *   inputs.NAME      the request tensor NAME loses its data, and the feature NAME is removed
 *   outputs.NAME     the response tensor NAME loses its data (and predictions, if it is the first output)
 *   features.NAME    the feature NAME is removed from every row
 *   headers.NAME     the header NAME is removed
 *   parameters.NAME  the request parameter NAME is removed
 * A raw (unparseable) request body is always dropped when any redaction is configured: it cannot be
 * redacted reliably. Returns the paths that matched something.
 */
export type RedactPath = { kind: "inputs" | "outputs" | "features" | "headers" | "parameters"; name: string };

const KINDS = new Set(["inputs", "outputs", "features", "headers", "parameters"]);

/** Parses --redact values; throws an Error naming the bad path and the accepted forms. */
export function parseRedactPaths(paths: string[]): RedactPath[] {
  return paths.map((p) => {
    const dot = p.indexOf(".");
    const kind = dot > 0 ? p.slice(0, dot) : "";
    const name = dot > 0 ? p.slice(dot + 1) : "";
    if (!KINDS.has(kind) || name === "") {
      throw new Error(
        `--redact "${p}" is not a path; use inputs.NAME, outputs.NAME, features.NAME, headers.NAME or parameters.NAME`,
      );
    }
    return { kind: kind as RedactPath["kind"], name: kind === "headers" ? name.toLowerCase() : name };
  });
}

/** Mutates data in place (it is freshly built per request) and records what matched in data.redacted. */
export function redact(data: InferenceData, paths: RedactPath[]): void {
  if (paths.length === 0) return;
  const matched = new Set<string>();
  const hit = (p: RedactPath) => matched.add(`${p.kind}.${p.name}`);
  if (data.request.body !== undefined) {
    delete data.request.body;
    matched.add("request.body");
  }
  for (const p of paths) {
    switch (p.kind) {
      case "inputs":
        for (const t of data.request.inputs) {
          if (t.name === p.name && t.data !== undefined) {
            delete t.data;
            hit(p);
          }
        }
        if (removeFeature(data, p.name)) hit(p);
        break;
      case "outputs":
        data.response?.outputs.forEach((t, i) => {
          if (t.name !== p.name) return;
          delete t.data;
          if (i === 0) delete data.predictions;
          hit(p);
        });
        break;
      case "features":
        if (removeFeature(data, p.name)) hit(p);
        break;
      case "headers":
        if (p.name in data.headers) {
          delete data.headers[p.name];
          hit(p);
        }
        break;
      case "parameters":
        if (data.request.parameters !== undefined && p.name in data.request.parameters) {
          delete data.request.parameters[p.name];
          hit(p);
        }
        break;
    }
  }
  if (matched.size > 0) data.redacted = [...matched];
}

function removeFeature(data: InferenceData, name: string): boolean {
  let removed = false;
  for (const row of data.features ?? []) {
    if (name in row) {
      delete row[name];
      removed = true;
    }
  }
  // v1 instances that are objects carry the field inside the tensor data too
  for (const t of data.request.inputs) {
    if (t.datatype !== "JSON" || t.data === undefined) continue;
    for (const inst of t.data) {
      if (typeof inst === "object" && inst !== null && name in inst) {
        delete (inst as Record<string, unknown>)[name];
        removed = true;
      }
    }
  }
  return removed;
}
