import { readFileSync } from "node:fs";

/** The package version: one string describes the controller, the image and every command. */
export const version: string = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
).version;
