import { parseArgs, type ParseArgsConfig } from "node:util";

/** What every `modelship <command>` module exports as `command`. */
export interface Command {
  name: string;
  summary: string;
  /** Usage text shown by `modelship <command> --help` and on bad flags. */
  usage: string;
  options: NonNullable<ParseArgsConfig["options"]>;
  allowPositionals?: boolean;
  run(args: ParsedArgs): Promise<number>;
}

export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  positionals: string[];
}

/** Thrown for bad flags or values; main prints the message plus usage and exits 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

export function parseCommandArgs(cmd: Command, argv: string[]): ParsedArgs {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { ...cmd.options, help: { type: "boolean", short: "h" } },
      allowPositionals: cmd.allowPositionals ?? false,
      strict: true,
    });
    return { values, positionals };
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** Typed accessors that turn a missing or malformed flag into a UsageError naming it. */
export function stringFlag(args: ParsedArgs, name: string): string | undefined {
  const v = args.values[name];
  return typeof v === "string" ? v : undefined;
}

export function requiredFlag(args: ParsedArgs, name: string): string {
  const v = stringFlag(args, name);
  if (v === undefined || v === "") throw new UsageError(`--${name} is required`);
  return v;
}

export function listFlag(args: ParsedArgs, name: string): string[] {
  const v = args.values[name];
  if (Array.isArray(v)) return v.map(String);
  return typeof v === "string" ? [v] : [];
}

export function intFlag(args: ParsedArgs, name: string, fallback: number, min = 0): number {
  const v = stringFlag(args, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min)
    throw new UsageError(`--${name} must be an integer >= ${min}, got "${v}"`);
  return n;
}

export function numberFlag(args: ParsedArgs, name: string, fallback: number): number {
  const v = stringFlag(args, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got "${v}"`);
  return n;
}

export function boolFlag(args: ParsedArgs, name: string): boolean {
  return args.values[name] === true;
}
