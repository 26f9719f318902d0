import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { crdFileName, crdYAML } from "../api/crdgen.js";
import { listFlag, boolFlag, type Command } from "./command.js";

export const command: Command = {
  name: "crds",
  summary: "Print or write the generated CustomResourceDefinitions",
  usage: [
    "Usage: modelship crds [--out DIR]... [--check]",
    "",
    "Prints the ModelDeployment CRD generated from the zod schemas.",
    "  --out DIR   write DIR/" + crdFileName + " instead of printing (repeatable)",
    "  --check     exit 1 if crds/ or charts/modelship/crds/ differ from the generator",
  ].join("\n"),
  options: { out: { type: "string", multiple: true }, check: { type: "boolean" } },
  async run(args) {
    const text = crdYAML();
    if (boolFlag(args, "check")) {
      const dirs = listFlag(args, "out");
      let stale = 0;
      for (const dir of dirs.length ? dirs : ["crds", "charts/modelship/crds"]) {
        const file = join(dir, crdFileName);
        let current = "";
        try {
          current = readFileSync(file, "utf8");
        } catch {
          /* missing counts as stale */
        }
        if (current !== text) {
          process.stderr.write(`${file} is out of date: run 'npm run crds' and commit the result\n`);
          stale++;
        }
      }
      return stale === 0 ? 0 : 1;
    }
    const outs = listFlag(args, "out");
    if (outs.length === 0) {
      process.stdout.write(text);
      return 0;
    }
    for (const dir of outs) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, crdFileName), text);
      process.stderr.write(`Wrote ${join(dir, crdFileName)}\n`);
    }
    return 0;
  },
};
