// The per-request fallback of a built-in pod: a request the local model failed (5xx, timeout, not ready) is
// sent once to --fallback-upstream (the stable Service), so a canary's failures never reach its clients.
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import { Pool } from "undici";
import { FALLBACK_HEADER, SHADOW_HEADER } from "../events/constants.js";
import { forwardRequestHeaders } from "../platform/http-headers.js";
import { HEADER_LENGTH_HEADER } from "./protocol.js";

/** An answer as it will be sent: status, headers and body. */
export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: Buffer | string;
}

/** Response headers relayed from the fallback to the client. */
const RELAYED = ["content-type", HEADER_LENGTH_HEADER, "retry-after"];

/** Whether the local answer should be retried on the fallback, and why (the metric's reason label). */
export function fallbackReason(status: number, headers: IncomingHttpHeaders): string | undefined {
  if (headers[FALLBACK_HEADER] !== undefined) return undefined; // it is a fallback already: never twice
  if (headers[SHADOW_HEADER] !== undefined) return undefined; // a shadow copy's answer goes nowhere
  if (status === 504) return "timeout";
  if (status === 503) return "unavailable";
  if (status >= 500) return "5xx";
  return undefined;
}

export class FallbackUpstream {
  private readonly pool: Pool;

  constructor(
    readonly origin: string,
    private readonly timeoutMs: number,
    private readonly maxBodyBytes: number,
  ) {
    this.pool = new Pool(origin, { connections: 64, keepAliveTimeout: 10_000 });
  }

  /** The fallback's answer, or undefined when it could not give one (the local answer then stands). */
  async forward(req: IncomingMessage, body: Buffer): Promise<Answer | undefined> {
    try {
      // the client's end-to-end headers, marked so the fallback never falls back again
      const headers = [
        ...forwardRequestHeaders(req.rawHeaders, req.headers.connection),
        FALLBACK_HEADER,
        "true",
      ];
      const res = await this.pool.request({
        method: "POST",
        path: req.url ?? "/",
        headers,
        body,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
      const parts: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > this.maxBodyBytes) {
          res.body.destroy();
          return undefined;
        }
        parts.push(chunk);
      }
      const out: Record<string, string> = { [FALLBACK_HEADER]: "true" };
      for (const name of RELAYED) {
        const v = res.headers[name];
        if (typeof v === "string") out[name] = v;
      }
      return { status: res.statusCode, headers: out, body: Buffer.concat(parts) };
    } catch {
      return undefined;
    }
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
