import { readFile } from "node:fs/promises";

/**
 * A file read now and again every intervalMs while the process runs: a ConfigMap volume, which the kubelet
 * refreshes in place (unlike env or args). Subclasses say what a read does.
 */
export abstract class PolledFile {
  private timer: NodeJS.Timeout | undefined;

  constructor(protected readonly file: string) {}

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

  /** Reads the file once and acts on it. */
  abstract read(): Promise<void>;

  /** The file's text; undefined while it is missing or unreadable. */
  protected async text(): Promise<string | undefined> {
    try {
      return await readFile(this.file, "utf8");
    } catch {
      return undefined;
    }
  }
}
