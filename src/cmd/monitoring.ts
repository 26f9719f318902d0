import { basename, join } from "node:path";
import { monitoringFiles } from "../observability/files.js";
import { boolFlag, stringFlag, type Command } from "./command.js";
import { checkGenerated, writeGenerated } from "./generated-files.js";

const CHART_FILES = "charts/modelship/files";

export const command: Command = {
  name: "monitoring",
  summary: "Print or write the Grafana dashboard and Prometheus alert rules",
  usage: [
    "Usage: modelship monitoring [--out DIR] [--check]",
    "",
    "The Grafana dashboard (one ModelDeployment at a glance) and the Prometheus alert rules, generated",
    "from src/observability. The Helm chart ships them from charts/modelship/files/.",
    "  --out DIR   write the files into DIR (npm run monitoring writes the chart's copy)",
    `  --check     exit 1 if DIR (default ${CHART_FILES}) differs from the generator`,
  ].join("\n"),
  options: { out: { type: "string" }, check: { type: "boolean" } },
  async run(args) {
    const out = stringFlag(args, "out");
    const files = Object.entries(monitoringFiles()).map(([name, text]) => ({
      file: join(out ?? CHART_FILES, name),
      text,
    }));
    if (boolFlag(args, "check")) return checkGenerated(files, "npm run monitoring");
    if (!out) {
      for (const { file, text } of files) process.stdout.write(`# ${basename(file)}\n${text}\n`);
      return 0;
    }
    writeGenerated(files);
    return 0;
  },
};
