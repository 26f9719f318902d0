// --model-features NAME=JSON: one model's feature schema when serve holds several (multi-model pods), so
// each model's events map features with its own schema; --features stays the default for the others.
import { parseFeatures } from "../events/config.js";
import type { FeatureSchema } from "../events/schema.js";

/** Parses the repeated flag; throws naming the flag, the model and the expected form. */
export function parseModelFeatures(
  flags: readonly string[],
  models: readonly string[],
): Map<string, FeatureSchema> {
  const out = new Map<string, FeatureSchema>();
  for (const flag of flags) {
    const eq = flag.indexOf("=");
    if (eq <= 0) {
      throw new Error(
        `--model-features "${flag.slice(0, 40)}" must look like NAME=JSON, e.g. fraud='[{"name":"amount","type":"numeric"}]'`,
      );
    }
    const name = flag.slice(0, eq);
    if (!models.includes(name)) {
      throw new Error(
        `--model-features ${name}: no --model ${name} is served (models: ${models.join(", ")})`,
      );
    }
    if (out.has(name)) throw new Error(`--model-features ${name} is given twice; give one per model`);
    try {
      out.set(name, parseFeatures(flag.slice(eq + 1)));
    } catch (err) {
      throw new Error(`--model-features ${name}: ${(err as Error).message.replace(/^--features:? ?/, "")}`);
    }
  }
  return out;
}
