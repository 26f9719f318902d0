import { join } from "node:path";
import { crdFileName, crdYAML } from "../api/crdgen.js";
import { listFlag, boolFlag, type Command } from "./command.js";
import { checkGenerated, writeGenerated } from "./generated-files.js";

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
    const outs = listFlag(args, "out");
    const files = (dirs: string[]) => dirs.map((dir) => ({ file: join(dir, crdFileName), text }));
    if (boolFlag(args, "check"))
      return checkGenerated(files(outs.length ? outs : ["crds", "charts/modelship/crds"]), "npm run crds");
    if (outs.length === 0) {
      process.stdout.write(text);
      return 0;
    }
    writeGenerated(files(outs));
    return 0;
  },
};
