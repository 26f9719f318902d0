// Predictions to a JSON Lines or CSV file. Each shard writes its part into a folder beside the output;
// the last shard to finish merges the parts, in input order, into the output and its rejects file
// (each written under a temporary name and renamed when complete) and writes the run's summary.
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createReadStream, createWriteStream, type WriteStream } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, rmdir } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { createInterface } from "node:readline";
import type { Logger } from "../platform/log.js";
import type { TensorSpec } from "../runtime/signature.js";
import { csvField, formatOf, type Format } from "./formats.js";
import type { Prediction, PredictionOutput, Rejection } from "./io.js";
import { mergePlan, type Shard } from "./shard.js";
import { combineParts, type PartSummary, type RunSummary } from "./summary.js";

/** A file written under a temporary name and renamed into place only when complete. */
export class AtomicWriter {
  private readonly tmp: string;
  private readonly stream: WriteStream;
  constructor(private readonly path: string) {
    // random, not the pid: two pods (both pid 1, maybe) may finalise the same run on one claim
    this.tmp = `${path}.tmp-${randomUUID()}`;
    this.stream = createWriteStream(this.tmp);
  }
  async write(s: string): Promise<void> {
    if (!this.stream.write(s)) await once(this.stream, "drain");
  }
  async commit(): Promise<void> {
    this.stream.end();
    await once(this.stream, "finish");
    await rename(this.tmp, this.path);
  }
  async abort(): Promise<void> {
    this.stream.destroy();
    await rm(this.tmp, { force: true });
  }
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const w = new AtomicWriter(path);
  try {
    await w.write(text);
    await w.commit();
  } catch (err) {
    await w.abort();
    throw err;
  }
}

/** Reads a file's lines on demand. */
class LineReader {
  private readonly it: AsyncIterator<string>;
  constructor(path: string) {
    this.it = createInterface({ input: createReadStream(path), crlfDelay: Infinity })[Symbol.asyncIterator]();
  }
  async next(): Promise<string | undefined> {
    const r = await this.it.next();
    return r.done ? undefined : r.value;
  }
  async copy(n: number, to: AtomicWriter, what: string): Promise<void> {
    for (let i = 0; i < n; i++) {
      const line = await this.next();
      if (line === undefined) throw new Error(`${what} ended early: the parts do not fit together`);
      await to.write(line + "\n");
    }
  }
  async close(): Promise<void> {
    await this.it.return?.();
  }
}

export interface FileOutputOptions {
  /** The output as named in the spec (pvc:// or file:// URI, or a path), for the summary. */
  output: string;
  rejects: string;
  /** The same three as local paths. */
  outputPath: string;
  rejectsPath: string;
  summaryPath: string;
  idField: string;
  runId: string;
  shard: Shard;
  log: Logger;
}

const partName = (shard: number) => `part-${String(shard).padStart(5, "0")}`;

export class FileOutput implements PredictionOutput {
  readonly output: string;
  readonly rejects: string;
  private readonly format: Format;
  private readonly partsDir: string;
  private out: AtomicWriter | undefined;
  private rej: AtomicWriter | undefined;
  private columns: string[] | undefined;

  constructor(private readonly opts: FileOutputOptions) {
    this.output = opts.output;
    this.rejects = opts.rejects;
    this.format = formatOf(opts.outputPath);
    const safeRun = opts.runId.replace(/[^A-Za-z0-9._-]/g, "_");
    this.partsDir = join(dirname(opts.outputPath), `.${basename(opts.outputPath)}.parts`, safeRun);
  }

  private partPath(shard: number, kind: "output" | "rejects" | "summary"): string {
    const ext = kind === "summary" ? ".json" : kind === "rejects" ? ".rejects.jsonl" : `.${this.format}`;
    return join(this.partsDir, partName(shard) + ext);
  }

  async open(_outputs: TensorSpec[], _idType: string): Promise<void> {
    await mkdir(this.partsDir, { recursive: true });
    this.out = new AtomicWriter(this.partPath(this.opts.shard.index, "output"));
    this.rej = new AtomicWriter(this.partPath(this.opts.shard.index, "rejects"));
  }

  async write(predictions: Prediction[], rejects: Rejection[]): Promise<void> {
    const { idField } = this.opts;
    for (const r of rejects) {
      await this.rej!.write(
        JSON.stringify({
          line: r.line,
          ...(r.id !== undefined ? { id: r.id } : {}),
          reason: r.reason,
          row: r.input,
        }) + "\n",
      );
    }
    for (const p of predictions) {
      if (this.format === "jsonl") {
        await this.out!.write(JSON.stringify({ [idField]: p.id, ...p.values }) + "\n");
        continue;
      }
      const flat: [string, unknown][] = [];
      for (const [name, v] of Object.entries(p.values)) {
        const values = Array.isArray(v) ? (v.flat(Infinity) as unknown[]) : [v];
        values.forEach((x, j) => flat.push([values.length === 1 ? name : `${name}_${j}`, x]));
      }
      if (this.columns === undefined) {
        this.columns = flat.map(([c]) => c);
        await this.out!.write([idField, ...this.columns].map(csvField).join(",") + "\n");
      }
      await this.out!.write([p.id, ...flat.map(([, x]) => x)].map(csvField).join(",") + "\n");
    }
  }

  async commit(part: PartSummary): Promise<void> {
    await this.out!.commit();
    await this.rej!.commit();
    this.out = undefined;
    this.rej = undefined;
    // the part's summary last: it is what says the part is complete
    await writeAtomically(this.partPath(part.shard, "summary"), JSON.stringify(part) + "\n");
  }

  async abort(): Promise<void> {
    await this.out?.abort();
    await this.rej?.abort();
    this.out = undefined;
    this.rej = undefined;
  }

  async recordFailure(part: PartSummary): Promise<void> {
    await mkdir(this.partsDir, { recursive: true });
    await writeAtomically(this.partPath(part.shard, "summary"), JSON.stringify(part) + "\n");
  }

  private async readParts(): Promise<PartSummary[]> {
    let names: string[];
    try {
      names = await readdir(this.partsDir);
    } catch {
      return [];
    }
    const parts: PartSummary[] = [];
    for (const n of names.filter((x) => /^part-\d+\.json$/.test(x))) {
      try {
        parts.push(JSON.parse(await readFile(join(this.partsDir, n), "utf8")) as PartSummary);
      } catch {
        // a part being replaced right now: the shard that writes it finalises after
      }
    }
    return parts;
  }

  /** The summary of this run, when another shard has already finalised it. */
  private async finalisedElsewhere(): Promise<RunSummary | undefined> {
    try {
      const s = JSON.parse(await readFile(this.opts.summaryPath, "utf8")) as RunSummary;
      return s.runId === this.opts.runId ? s : undefined;
    } catch {
      return undefined;
    }
  }

  async finalize(): Promise<RunSummary | undefined> {
    const { shard, runId, log } = this.opts;
    const where = { output: this.output, rejects: this.rejects };
    const run = combineParts(await this.readParts(), runId, shard.count, where);
    if (run === undefined) return undefined;
    try {
      if (run.outcome === "Succeeded") await this.merge(run);
    } catch (err) {
      // two shards finishing together both merge (into their own temp files); the first one removes the parts
      const done = await this.finalisedElsewhere();
      if (done) return done;
      throw err;
    }
    await rm(this.partsDir, { recursive: true, force: true });
    await rmdir(dirname(this.partsDir)).catch(() => {});
    log.info({ runId, output: run.output, outcome: run.outcome }, "Finalised batch run");
    return run;
  }

  private async merge(run: RunSummary): Promise<void> {
    const n = this.opts.shard.count;
    if (n === 1) {
      // one part is the whole output already: renamed into place, not copied
      await rename(this.partPath(0, "output"), this.opts.outputPath);
      await rename(this.partPath(0, "rejects"), this.opts.rejectsPath);
      await writeAtomically(this.opts.summaryPath, JSON.stringify(run, null, 2) + "\n");
      return;
    }
    const parts = (await this.readParts())
      .filter((p) => p.runId === run.runId)
      .sort((a, b) => a.shard - b.shard);
    const out = new AtomicWriter(this.opts.outputPath);
    const rej = new AtomicWriter(this.opts.rejectsPath);
    const outs = parts.map((p) => new LineReader(this.partPath(p.shard, "output")));
    const rejs = parts.map((p) => new LineReader(this.partPath(p.shard, "rejects")));
    try {
      if (this.format === "csv") {
        // each part that predicted anything starts with the same header; the output has it once
        let header: string | undefined;
        for (const [i, p] of parts.entries()) {
          if (p.predicted === 0) continue;
          const h = await outs[i]!.next();
          header ??= h;
        }
        if (header !== undefined) await out.write(header + "\n");
      }
      const blocks = parts.map((p) => p.blocks);
      if (blocks.every((b) => b !== undefined)) {
        for (const step of mergePlan(blocks)) {
          await outs[step.part]!.copy(step.predicted, out, `part ${step.part}'s output`);
          await rejs[step.part]!.copy(step.rejected, rej, `part ${step.part}'s rejects`);
        }
      } else {
        // rows split by id (a SQL input): no input order to restore, the parts follow each other
        for (let i = 0; i < n; i++) {
          await outs[i]!.copy(parts[i]!.predicted, out, `part ${i}'s output`);
          await rejs[i]!.copy(parts[i]!.rejected, rej, `part ${i}'s rejects`);
        }
      }
      await out.commit();
      await rej.commit();
    } catch (err) {
      await out.abort();
      await rej.abort();
      throw err;
    } finally {
      for (const r of [...outs, ...rejs]) await r.close();
    }
    await writeAtomically(this.opts.summaryPath, JSON.stringify(run, null, 2) + "\n");
  }

  async close(): Promise<void> {
    await this.abort();
  }
}
