import { ChecksumError, fetchModel } from "../fetch/download.js";
import { SourceError } from "../fetch/source.js";
import { createLogger } from "../platform/log.js";
import { intFlag, requiredFlag, stringFlag, UsageError, type Command } from "./command.js";

export const command: Command = {
  name: "fetch",
  summary: "Download a model into a directory and verify its sha256 (the init container)",
  usage: [
    "Usage: modelship fetch --uri URI --dest DIR [--filename NAME] [--sha256 HEX] [--endpoint URL] [--pvc-root DIR]",
    "",
    "Writes DIR/NAME atomically (temp file + rename); retries with backoff; logs progress.",
    "  --uri URI        https://..., s3://BUCKET/KEY, gs://BUCKET/KEY, pvc://CLAIM/PATH, file:///PATH",
    "  --dest DIR       directory to write into (created if missing)",
    "  --filename NAME  file name in DIR (default: the last segment of the URI path)",
    "  --sha256 HEX     expected digest; a mismatch exits 1 naming both digests",
    "  --endpoint URL   S3-compatible endpoint (also AWS_ENDPOINT_URL); credentials from AWS_ACCESS_KEY_ID,",
    "                   AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN; region from AWS_REGION (default us-east-1)",
    "  --pvc-root DIR   where claims are mounted (default /mnt/pvc)",
    "  --attempts N     download attempts before giving up (default 5)",
  ].join("\n"),
  options: {
    uri: { type: "string" },
    dest: { type: "string" },
    filename: { type: "string" },
    sha256: { type: "string" },
    endpoint: { type: "string" },
    "pvc-root": { type: "string" },
    attempts: { type: "string" },
  },
  async run(args) {
    const uri = requiredFlag(args, "uri");
    const dest = requiredFlag(args, "dest");
    const sha256 = stringFlag(args, "sha256");
    if (sha256 !== undefined && !/^[0-9a-fA-F]{64}$/.test(sha256)) {
      throw new UsageError(`--sha256 must be 64 hex digits, got "${sha256}"`);
    }
    const log = createLogger({ name: "fetch" });
    try {
      const r = await fetchModel({
        uri,
        dest,
        filename: stringFlag(args, "filename"),
        sha256,
        endpoint: stringFlag(args, "endpoint"),
        pvcRoot: stringFlag(args, "pvc-root") ?? "/mnt/pvc",
        env: process.env,
        log,
        attempts: intFlag(args, "attempts", 5, 1),
      });
      process.stdout.write(`${r.path} ${r.bytes} bytes sha256:${r.sha256}\n`);
      return 0;
    } catch (err) {
      if (err instanceof SourceError) throw new UsageError(err.message);
      if (err instanceof ChecksumError) {
        log.error({ uri, expected: err.expected, actual: err.actual }, "Rejected model: checksum mismatch");
      } else {
        log.error({ uri, err: (err as Error).message }, "Failed to fetch model");
      }
      process.stderr.write(`modelship fetch: ${(err as Error).message}\n`);
      return 1;
    }
  },
};
