// Runs the CLI straight from sources (node --import tsx bin/dev.ts <command> ...): used by tests and local hacking.
// `chart-schema [--check]` is a build step only: it writes (or checks) the chart's values.schema.json.
import { main } from "../src/cmd/main.js";
import { chartSchema } from "../src/cmd/generated-files.js";

const [name, ...rest] = process.argv.slice(2);
process.exitCode = name === "chart-schema" ? await chartSchema(rest) : await main(process.argv.slice(2));
