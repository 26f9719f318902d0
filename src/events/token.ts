// Bearer token files (a mounted Secret): one token a line, blank lines and # comments ignored. The
// collector accepts every token in its file, so a rotation can add the new token before removing the
// old one; clients send the first.
import { readFile } from "node:fs/promises";

export function parseTokens(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
}

/** The token a client sends: the file's first. Throws naming the file. */
export async function readTokenFile(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new Error(`cannot read token file ${path}: ${(err as Error).message}`);
  }
  const token = parseTokens(text)[0];
  if (token === undefined) throw new Error(`token file ${path} holds no token`);
  return token;
}
