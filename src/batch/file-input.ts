// Rows from a JSON Lines or CSV file (local, pvc, or any fetch URI), dealt to shards in blocks.
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { openUri } from "../fetch/download.js";
import { formatOf, parseCsvLine, type Format } from "./formats.js";
import type { InputRecord, RowInput } from "./io.js";
import { blockOf, localBlock, ownsBlock, type Shard } from "./shard.js";

export interface FileInputOptions {
  uri: string;
  format?: Format;
  shard: Shard;
  blockRows: number;
  pvcRoot: string;
  endpoint?: string;
  env: Record<string, string | undefined>;
}

export class FileInput implements RowInput {
  readonly idType = "text";
  private stream: Readable | undefined;

  private constructor(private readonly opts: FileInputOptions) {}

  /** Opens the file (a missing file or a refused download fails here, before anything is written). */
  static async open(opts: FileInputOptions): Promise<FileInput> {
    const input = new FileInput(opts);
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(opts.uri)) {
      input.stream = await openUri(opts.uri, opts);
    } else {
      const stream = createReadStream(opts.uri);
      input.stream = stream;
      // a missing file fails here rather than on the first read
      await new Promise<void>((resolve, reject) =>
        stream.once("open", () => resolve()).once("error", reject),
      );
    }
    return input;
  }

  async *records(): AsyncIterable<InputRecord> {
    const { shard, blockRows } = this.opts;
    const format = this.opts.format ?? formatOf(this.opts.uri);
    const lines = createInterface({ input: this.stream!, crlfDelay: Infinity });
    let header: string[] | undefined;
    let lineNo = 0;
    let record = -1;
    for await (const raw of lines) {
      lineNo++;
      if (raw.trim() === "") continue;
      if (format === "csv" && header === undefined) {
        try {
          header = parseCsvLine(raw);
        } catch (err) {
          throw new Error(`the CSV header of ${this.opts.uri} cannot be read: ${(err as Error).message}`);
        }
        continue;
      }
      record++;
      const block = blockOf(record, blockRows);
      // every shard reads every line, and parses only its own
      if (!ownsBlock(block, shard)) continue;
      const base = { line: lineNo, block: localBlock(block, shard), raw };
      if (format === "csv") {
        let cells: string[];
        try {
          cells = parseCsvLine(raw);
        } catch (err) {
          yield { ...base, error: (err as Error).message };
          continue;
        }
        if (cells.length !== header!.length) {
          yield { ...base, error: `row has ${cells.length} columns, the header has ${header!.length}` };
          continue;
        }
        yield { ...base, row: Object.fromEntries(header!.map((h, i) => [h, cells[i]])) };
      } else {
        let parsed: unknown;
        try {
          parsed = JSON.parse(raw);
        } catch (err) {
          yield { ...base, error: `row is not valid JSON: ${(err as Error).message}` };
          continue;
        }
        if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
          yield { ...base, error: "row is not a JSON object" };
          continue;
        }
        yield { ...base, row: parsed as Record<string, unknown> };
      }
    }
  }

  async close(): Promise<void> {
    this.stream?.destroy();
  }
}
