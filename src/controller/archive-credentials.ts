// Reads the events archive's credentials from a mounted Secret (one file per variable), at start.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { archiveCredentialKeys } from "../render/events-archive.js";

/**
 * The AWS_* variables in DIR (files named like archiveCredentialKeys; the Secret's other keys are left
 * out). Throws naming what is missing: an access key without its secret, or neither.
 */
export async function readArchiveCredentials(dir: string): Promise<Record<string, string>> {
  const names = new Set(await readdir(dir));
  const out: Record<string, string> = {};
  for (const key of archiveCredentialKeys)
    if (names.has(key)) out[key] = (await readFile(join(dir, key), "utf8")).trim();
  if (!out.AWS_ACCESS_KEY_ID || !out.AWS_SECRET_ACCESS_KEY)
    throw new Error(
      `${dir} must hold the files AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (the keys of the archive's credentials Secret); found ${
        [...names]
          .filter((n) => !n.startsWith(".."))
          .sort()
          .join(", ") || "none"
      }`,
    );
  return out;
}
