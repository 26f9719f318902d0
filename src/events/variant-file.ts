import { readFile } from "node:fs/promises";
import type { Logger } from "../platform/log.js";
import { VARIANTS } from "./constants.js";
import type { Variant } from "./schema.js";

/**
 * What this pod serves as, read from a file that changes while the pod runs: the controller's ConfigMap of
 * revision variants, mounted as a volume (which the kubelet refreshes in place, unlike env or args). While
 * the file is missing or unreadable, `fallback` (--variant) holds.
 */
export class VariantFile {
  current: Variant;
  private timer: NodeJS.Timeout | undefined;
  private warned = false;

  constructor(
    private readonly file: string,
    private readonly fallback: Variant,
    private readonly log: Logger,
  ) {
    this.current = fallback;
  }

  /** Reads the file now, then every intervalMs. */
  async start(intervalMs = 5_000): Promise<void> {
    await this.read();
    this.timer = setInterval(() => void this.read(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Reads the file once and updates current. */
  async read(): Promise<void> {
    let next = this.fallback;
    try {
      const text = (await readFile(this.file, "utf8")).trim();
      if ((VARIANTS as readonly string[]).includes(text)) next = text as Variant;
      else if (!this.warned) {
        this.warned = true;
        this.log.warn({ file: this.file, content: text.slice(0, 64) }, "Ignored variant file: not a variant");
      }
    } catch {
      // not there (yet): the pod started before the ConfigMap, or this revision is not in it
    }
    if (next !== this.current) {
      this.log.info({ file: this.file, from: this.current, to: next }, "Changed variant");
      this.current = next;
    }
  }
}
