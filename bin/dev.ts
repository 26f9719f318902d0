// Runs the CLI straight from sources (node --import tsx bin/dev.ts <command> ...): used by tests and local hacking.
import { main } from "../src/cmd/main.js";

process.exitCode = await main(process.argv.slice(2));
