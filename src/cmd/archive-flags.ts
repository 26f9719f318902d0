// The collector's Parquet archive flags (docs/parquet.md): parsed here so cmd/collector.ts only wires.
import { relative, resolve } from "node:path";
import type { CollectorArchiveOptions } from "../collector/archive.js";
import { DirTarget, S3Target } from "../events/archive-target.js";
import { UsageError, intFlag, stringFlag, type Command, type ParsedArgs } from "./command.js";

export const archiveUsage = [
  "Parquet archive (docs/parquet.md):",
  "  --archive DIR|s3://BUCKET[/PREFIX]  also write every closed segment as Parquet there, under",
  "                              model=<model>/date=<YYYY-MM-DD>/hour=<HH>/ (S3: credentials from AWS_* variables)",
  "  --archive-mode copy|move    move: delete an archived NDJSON segment once its hour ended over an hour ago",
  "                              (default copy: the NDJSON stays)",
  "  --archive-retention-days N  delete archive partitions older than N days (default 0: keep them)",
  "  --archive-retention-partitions N  keep only the newest N hour partitions per model (default 0: all)",
  "  --archive-interval-ms N     how often move and archive retention run (default 600000)",
  "  --archive-s3-endpoint URL   S3-compatible endpoint (default AWS_ENDPOINT_URL, else AWS)",
];

export const archiveOptions: Command["options"] = {
  archive: { type: "string" },
  "archive-mode": { type: "string" },
  "archive-retention-days": { type: "string" },
  "archive-retention-partitions": { type: "string" },
  "archive-interval-ms": { type: "string" },
  "archive-s3-endpoint": { type: "string" },
};

/** The archive's settings from the flags; undefined without --archive. Throws UsageError naming the flag. */
export function archiveConfig(
  args: ParsedArgs,
  dataDir: string,
  env: Record<string, string | undefined>,
): Omit<CollectorArchiveOptions, "dataDir" | "registry" | "log"> | undefined {
  const where = stringFlag(args, "archive");
  const mode = stringFlag(args, "archive-mode") ?? "copy";
  if (mode !== "copy" && mode !== "move")
    throw new UsageError(`--archive-mode must be copy or move, got "${mode}"`);
  if (where === undefined) {
    for (const name of Object.keys(archiveOptions))
      if (name !== "archive" && stringFlag(args, name) !== undefined)
        throw new UsageError(`--${name} needs --archive DIR|s3://BUCKET[/PREFIX]`);
    return undefined;
  }
  const days = intFlag(args, "archive-retention-days", 0, 0);
  const partitions = intFlag(args, "archive-retention-partitions", 0, 0);
  const retention = {
    ...(days > 0 ? { maxAgeMs: days * 86_400_000 } : {}),
    ...(partitions > 0 ? { maxPartitions: partitions } : {}),
  };
  const intervalMs = intFlag(args, "archive-interval-ms", 10 * 60_000, 100);
  let target;
  if (/^s3:\/\//.test(where)) {
    try {
      target = S3Target.fromUrl(where, stringFlag(args, "archive-s3-endpoint"), env);
    } catch (err) {
      throw new UsageError(`--archive: ${(err as Error).message}`);
    }
  } else {
    const rel = relative(resolve(dataDir), resolve(where));
    // inside the data directory it would be read as a model's events
    if (rel === "" || (!rel.startsWith("..") && !rel.startsWith("/")))
      throw new UsageError(
        `--archive ${where} is inside --data-dir ${dataDir}: give it a directory of its own (e.g. a sibling)`,
      );
    target = new DirTarget(where);
  }
  return { target, mode, retention, intervalMs };
}
