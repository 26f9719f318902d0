#!/usr/bin/env node
// The one CLI: every container and every operator command runs through here.
import { main } from "../dist/cmd/main.js";

process.exitCode = await main(process.argv.slice(2));
