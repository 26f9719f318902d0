// Test helper: the Python reference (scipy) the parity tests compare against. The venv is created once by
// ensure-pyenv.sh and cached under .cache/pyenv; when it cannot be created the tests fail with the reason.
import { execFileSync, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
let python: string | undefined;

export function referencePython(): string {
  if (python) return python;
  const r = spawnSync("bash", [`${here}ensure-pyenv.sh`], { encoding: "utf8", timeout: 15 * 60_000 });
  if (r.status !== 0) {
    throw new Error(
      `cannot set up the scipy reference environment (python3 -m venv + pip install scipy pandas palmerpenguins); ` +
        `the parity tests need it. Exit ${r.status}: ${(r.stderr || String(r.error ?? "")).slice(-2000)}`,
    );
  }
  python = `${r.stdout.trim()}/bin/python`;
  return python;
}

export function runReference(args: string[], input?: unknown): unknown {
  const out = execFileSync(referencePython(), [`${here}scipy_ref.py`, ...args], {
    input: input === undefined ? undefined : JSON.stringify(input),
    maxBuffer: 1 << 30,
    timeout: 10 * 60_000,
  });
  return JSON.parse(out.toString("utf8"));
}

/** The path of a data file shipped inside an installed Python package. */
export function packageDataFile(pkg: string, relative: string): string {
  return execFileSync(referencePython(), ["-c", `import ${pkg}, os; print(os.path.join(os.path.dirname(${pkg}.__file__), ${JSON.stringify(relative)}))`])
    .toString("utf8")
    .trim();
}
