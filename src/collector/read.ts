import { createReadStream } from "node:fs";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { createGunzip } from "node:zlib";
import type { Readable } from "node:stream";

/**
 * The segment files of one partition directory, oldest first. While a rotation is compressing a segment,
 * both X.ndjson and X.ndjson.gz exist for a moment: the plain file wins, so no line is read twice.
 */
export async function segmentFiles(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  const plain = new Set(names.filter((n) => n.endsWith(".ndjson")));
  return names
    .filter((n) => plain.has(n) || (n.endsWith(".ndjson.gz") && !plain.has(n.slice(0, -3))))
    .sort()
    .map((n) => join(dir, n));
}

/** Streams the complete lines of a segment; a trailing partial line (a write in progress) is skipped. */
export async function* segmentLines(path: string): AsyncGenerator<string> {
  let stream: Readable;
  try {
    const raw = createReadStream(path);
    await new Promise<void>((resolve, reject) => {
      raw.once("open", () => resolve());
      raw.once("error", reject);
    });
    stream = path.endsWith(".gz") ? raw.pipe(createGunzip()) : raw;
  } catch (err) {
    // rotated away between listing and opening: the .gz holds the same lines
    if ((err as NodeJS.ErrnoException).code === "ENOENT" && !path.endsWith(".gz")) {
      yield* segmentLines(`${path}.gz`);
      return;
    }
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  const rl = createInterface({ input: stream, crlfDelay: Infinity });
  for await (const line of rl) if (line !== "") yield line;
}

/** Sub-directories of dir, sorted; [] when dir does not exist. */
export async function subdirs(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
}
