// Which model files to serve: `--model NAME=PATH[@VERSION]` flags and `--model-dir` layouts.
import { readdirSync, statSync } from "node:fs";
import { basename, extname, join } from "node:path";

export interface ModelSpec {
  name: string;
  version: string;
  path: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Parses NAME=PATH[@VERSION]; the version defaults to "1". Throws with the flag's expected form. */
export function parseModelFlag(flag: string): ModelSpec {
  const eq = flag.indexOf("=");
  if (eq <= 0 || eq === flag.length - 1) {
    throw new Error(`--model "${flag}" must look like NAME=PATH[@VERSION], e.g. fraud=/models/fraud.onnx@3`);
  }
  const name = flag.slice(0, eq);
  let path = flag.slice(eq + 1);
  let version = "1";
  const at = path.lastIndexOf("@");
  if (at > 0 && !path.slice(at + 1).includes("/")) {
    version = path.slice(at + 1);
    path = path.slice(0, at);
  }
  if (!NAME.test(name))
    throw new Error(`--model "${flag}": name "${name}" may use letters, digits, "_", "." and "-"`);
  if (!NAME.test(version))
    throw new Error(`--model "${flag}": version "${version}" may use letters, digits, "_", "." and "-"`);
  return { name, version, path };
}

/**
 * Scans a model directory. Two layouts, mixable:
 *   DIR/NAME.onnx                 -> NAME, version "1"
 *   DIR/NAME/VERSION/<file>.onnx  -> NAME, VERSION (the first .onnx file by name)
 */
export function scanModelDir(dir: string): ModelSpec[] {
  const specs: ModelSpec[] = [];
  for (const entry of readdirSync(dir).sort()) {
    const p = join(dir, entry);
    const st = statSync(p);
    if (st.isFile() && extname(entry) === ".onnx") {
      specs.push({ name: basename(entry, ".onnx"), version: "1", path: p });
    } else if (st.isDirectory()) {
      for (const version of readdirSync(p).sort()) {
        const vdir = join(p, version);
        if (!statSync(vdir).isDirectory()) continue;
        const file = readdirSync(vdir)
          .filter((f) => extname(f) === ".onnx")
          .sort()[0];
        if (file !== undefined) specs.push({ name: entry, version, path: join(vdir, file) });
      }
    }
  }
  return specs;
}

/** Rejects two specs for the same NAME@VERSION. */
export function checkUnique(specs: readonly ModelSpec[]): void {
  const seen = new Set<string>();
  for (const s of specs) {
    const key = `${s.name}@${s.version}`;
    if (seen.has(key)) throw new Error(`model ${key} is given twice; each NAME@VERSION must be unique`);
    seen.add(key);
  }
}

/** The version an unversioned request goes to: the highest, numerically when both are numbers. */
export function compareVersions(a: string, b: string): number {
  const na = Number(a);
  const nb = Number(b);
  if (Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
  return a < b ? -1 : a > b ? 1 : 0;
}
