// Where an output file's companions go, and output URIs as local paths.
import { parseSource } from "../fetch/source.js";

/** A pvc://CLAIM/path (under pvcRoot), file:// or plain path as a local path; pvc paths stay in their claim. */
export function localPath(uri: string, pvcRoot: string): string {
  const s = parseSource(uri, pvcRoot);
  if (s.kind !== "local")
    throw new Error(`${uri}: an output must be pvc://CLAIM/path, file:///path or a path`);
  return s.path;
}

const EXTENSION = /\.(jsonl|ndjson|json|csv)$/i;

/**
 * The rejected rows and the run's summary beside an output file, named after it:
 * scores.jsonl -> scores.rejects.jsonl and scores.summary.json (works on URIs and paths alike).
 */
export function companions(output: string): { rejects: string; summary: string } {
  const stem = output.replace(EXTENSION, "");
  return { rejects: `${stem}.rejects.jsonl`, summary: `${stem}.summary.json` };
}
