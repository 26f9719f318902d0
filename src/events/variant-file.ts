import type { Logger } from "../platform/log.js";
import { PolledFile } from "../platform/polled-file.js";
import { VARIANTS } from "./constants.js";
import type { Variant } from "./schema.js";

/**
 * What this pod serves as, read from a file that changes while the pod runs: the controller's ConfigMap of
 * revision variants, mounted as a volume (which the kubelet refreshes in place, unlike env or args). While
 * the file is missing or unreadable, `fallback` (--variant) holds.
 */
export class VariantFile extends PolledFile {
  current: Variant;
  private warned = false;

  constructor(
    file: string,
    private readonly fallback: Variant,
    private readonly log: Logger,
  ) {
    super(file);
    this.current = fallback;
  }

  /** Reads the file once and updates current. */
  async read(): Promise<void> {
    let next = this.fallback;
    // not there (yet): the pod started before the ConfigMap, or this revision is not in it
    const text = (await this.text())?.trim();
    if (text !== undefined) {
      if ((VARIANTS as readonly string[]).includes(text)) next = text as Variant;
      else if (!this.warned) {
        this.warned = true;
        this.log.warn({ file: this.file, content: text.slice(0, 64) }, "Ignored variant file: not a variant");
      }
    }
    if (next !== this.current) {
      this.log.info({ file: this.file, from: this.current, to: next }, "Changed variant");
      this.current = next;
    }
  }
}
