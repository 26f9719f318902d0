// Files generated from the sources and committed (the CRDs, the chart's dashboard and alert rules):
// write them, or check that the committed copies are what the generator writes.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

export interface GeneratedFile {
  file: string;
  text: string;
}

/** Exit code 1 (naming each stale file and the command that regenerates it) unless all are current. */
export function checkGenerated(files: GeneratedFile[], regenerate: string): number {
  let stale = 0;
  for (const { file, text } of files) {
    let current = "";
    try {
      current = readFileSync(file, "utf8");
    } catch {
      /* missing counts as stale */
    }
    if (current !== text) {
      process.stderr.write(`${file} is out of date: run '${regenerate}' and commit the result\n`);
      stale++;
    }
  }
  return stale === 0 ? 0 : 1;
}

export function writeGenerated(files: GeneratedFile[]): void {
  for (const { file, text } of files) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    process.stderr.write(`Wrote ${file}\n`);
  }
}

/**
 * `chart-schema [--check]` (bin/dev.ts; `npm run chart-schema`): the chart's values.schema.json, from the
 * zod schema in src/platform/chart-values.ts. A build step, not a command of the shipped CLI.
 */
export async function chartSchema(argv: string[]): Promise<number> {
  const { valuesSchemaFile, valuesSchemaJSON } = await import("../platform/chart-values.js");
  const files = [{ file: valuesSchemaFile, text: valuesSchemaJSON() }];
  if (argv.includes("--check")) return checkGenerated(files, "npm run chart-schema");
  writeGenerated(files);
  return 0;
}
