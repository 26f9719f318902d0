import { pino, type Logger, type LevelWithSilent } from "pino";

export type { Logger };

export interface LoggerOptions {
  /** The component name, e.g. "controller", "serve". */
  name: string;
  level?: LevelWithSilent;
  /** Where JSON lines go; stderr by default so stdout stays free for command output. */
  destination?: NodeJS.WritableStream;
}

/** One structured JSON logger per process; pass it down, never import a global. */
export function createLogger(opts: LoggerOptions): Logger {
  const level = opts.level ?? "info";
  return pino(
    {
      name: opts.name,
      level,
      base: { component: opts.name },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: pino.stdSerializers.err },
    },
    opts.destination ?? process.stderr,
  );
}
