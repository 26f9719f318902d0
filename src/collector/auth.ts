// Bearer tokens for the collector's API, from a file (a mounted Secret). The file is re-read on a timer,
// so a rotated Secret takes effect without a restart; it may hold several tokens, one a line, so a
// rotation can add the new token before removing the old one.
import { createHash, timingSafeEqual } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { Logger } from "../platform/log.js";
import { parseTokens } from "../events/token.js";

export type AuthResult = "ok" | "missing" | "invalid";

const digest = (s: string) => createHash("sha256").update(s).digest();

/**
 * Checks an Authorization header against the accepted tokens. Compares SHA-256 digests with
 * timingSafeEqual (equal lengths whatever was sent) and always tries every token, so the answer's
 * timing says nothing about how much of a token matched.
 */
export function checkBearer(header: string | undefined, accepted: readonly Buffer[]): AuthResult {
  const m = header === undefined ? null : /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  if (!m) return "missing";
  const presented = digest(m[1]!);
  let ok = false;
  for (const t of accepted) ok = timingSafeEqual(presented, t) || ok;
  return ok ? "ok" : "invalid";
}

export class TokenFile {
  private digests: Buffer[] = [];
  private timer: NodeJS.Timeout | undefined;
  private failing = false;

  private constructor(
    readonly path: string,
    private readonly log: Logger,
  ) {}

  /** Reads the file (it must hold a token), then re-reads it every reloadMs. */
  static async open(path: string, log: Logger, reloadMs = 10_000): Promise<TokenFile> {
    const f = new TokenFile(path, log);
    await f.load();
    f.timer = setInterval(() => void f.reload(), reloadMs);
    f.timer.unref();
    return f;
  }

  check(header: string | undefined): AuthResult {
    return checkBearer(header, this.digests);
  }

  close(): void {
    clearInterval(this.timer);
  }

  private async load(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (err) {
      throw new Error(`--token-file ${this.path}: ${(err as Error).message}`);
    }
    const tokens = parseTokens(text);
    if (tokens.length === 0) throw new Error(`--token-file ${this.path} holds no token`);
    this.digests = tokens.map(digest);
  }

  /** A failed re-read keeps the tokens already loaded: a Secret being swapped must not lock clients out. */
  private async reload(): Promise<void> {
    const before = this.digests;
    try {
      await this.load();
      if (this.failing) this.log.info({ tokenFile: this.path }, "Read token file again");
      this.failing = false;
      const changed =
        before.length !== this.digests.length || before.some((d, i) => !d.equals(this.digests[i]!));
      if (changed)
        this.log.info({ tokenFile: this.path, tokens: this.digests.length }, "Reloaded API tokens");
    } catch (err) {
      this.digests = before;
      if (!this.failing)
        this.log.warn({ err: (err as Error).message }, "Kept API tokens: token file unreadable");
      this.failing = true;
    }
  }
}
