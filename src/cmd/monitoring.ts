import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { monitoringFiles } from "../observability/files.js";
import { boolFlag, stringFlag, type Command } from "./command.js";

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
    const files = monitoringFiles();
    const out = stringFlag(args, "out");
    if (boolFlag(args, "check")) {
      let stale = 0;
      for (const [name, text] of Object.entries(files)) {
        const file = join(out ?? CHART_FILES, name);
        let current = "";
        try {
          current = readFileSync(file, "utf8");
        } catch {
          /* missing counts as stale */
        }
        if (current !== text) {
          process.stderr.write(`${file} is out of date: run 'npm run monitoring' and commit the result\n`);
          stale++;
        }
      }
      return stale === 0 ? 0 : 1;
    }
    if (!out) {
      for (const [name, text] of Object.entries(files)) process.stdout.write(`# ${name}\n${text}\n`);
      return 0;
    }
    mkdirSync(out, { recursive: true });
    for (const [name, text] of Object.entries(files)) {
      writeFileSync(join(out, name), text);
      process.stderr.write(`Wrote ${join(out, name)}\n`);
    }
    return 0;
  },
};
