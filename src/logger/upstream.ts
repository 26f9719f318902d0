import type { IncomingHttpHeaders } from "node:http";
import { Pool, type Dispatcher } from "undici";
import { BodyBuffer, type BodyBudget, type BodyLimits, type Refusal } from "./body.js";

/**
 * The logger's client to a model server: an undici Pool (llhttp parses the answers), one request per
 * connection at a time, a bounded number of connections. The answer is collected whole (the proxy
 * decides on fallback before it answers, and records the body) into a BodyBuffer, so responses count
 * against the same in-flight budget as requests.
 */
export interface UpstreamRequest {
  method: string;
  /** The request-target, query included. */
  path: string;
  /** Flat [name, value, ...], end-to-end headers only (see headers.ts). */
  headers: string[];
  body: Buffer | null;
}

export interface UpstreamResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** Gives the body's memory back to the budget; the body must not be used after. */
  release(): void;
}

/** timeout: no answer in time; unreachable: no connection or a broken answer; overloaded: no budget for the answer. */
export type UpstreamFailure = "timeout" | "unreachable" | "overloaded";

export class UpstreamError extends Error {
  override name = "UpstreamError";
  constructor(
    readonly kind: UpstreamFailure,
    message: string,
  ) {
    super(message);
  }
}

export interface UpstreamOptions {
  /** Connections to the model server at most; requests beyond wait in the pool's queue. */
  connections: number;
  /** Per attempt: to connect, to the answer's head, and between its body chunks. */
  timeoutMs: number;
  budget: BodyBudget;
  /** A larger answer fails as unreachable. */
  limits: BodyLimits;
}

export class Upstream {
  private readonly pool: Pool;

  constructor(
    readonly origin: string,
    private readonly opts: UpstreamOptions,
  ) {
    this.pool = new Pool(origin, {
      connections: opts.connections,
      pipelining: 1,
      connect: { timeout: opts.timeoutMs },
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
    });
  }

  /** Sends one request; rejects with an UpstreamError. A reused connection the server had closed is retried once. */
  async request(req: UpstreamRequest, timeoutMs = this.opts.timeoutMs): Promise<UpstreamResponse> {
    try {
      return await this.once(req, timeoutMs);
    } catch (err) {
      if (!(err instanceof StaleConnectionError)) throw err;
      return this.once(req, timeoutMs);
    }
  }

  private once(req: UpstreamRequest, timeoutMs: number): Promise<UpstreamResponse> {
    return new Promise((resolve, reject) => {
      const body = new BodyBuffer(this.opts.budget, this.opts.limits);
      const handler = new Collector(req.method, timeoutMs, body, resolve, reject);
      try {
        this.pool.dispatch(
          {
            method: req.method as Dispatcher.HttpMethod,
            path: req.path,
            headers: req.headers,
            body: req.body,
            headersTimeout: timeoutMs,
            bodyTimeout: timeoutMs,
          },
          handler,
        );
      } catch (err) {
        handler.onResponseError(undefined, err as Error);
      }
    });
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/** A keep-alive connection that the server closed before answering: safe to send the request again once. */
class StaleConnectionError extends Error {}

/** What a Collector aborts the response with when the body is refused. */
class RefusedBody extends Error {
  constructor(readonly refusal: Refusal) {
    super(refusal.message);
  }
}

/** Receives one answer into a BodyBuffer (undici's dispatch handler interface). */
class Collector implements Dispatcher.DispatchHandler {
  private status = 0;
  private headers: IncomingHttpHeaders = {};
  /** Some of the answer arrived (undici calls this before the head is parsed). */
  private started = false;
  private settled = false;

  constructor(
    private readonly method: string,
    private readonly timeoutMs: number,
    private readonly body: BodyBuffer,
    private readonly resolve: (r: UpstreamResponse) => void,
    private readonly reject: (e: UpstreamError | StaleConnectionError) => void,
  ) {}

  // its presence tells undici this handler speaks the current interface
  onRequestStart(): void {}

  onResponseStarted(): void {
    this.started = true;
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
  ): void {
    // 1xx interim answers (103 Early Hints) precede the real one
    if (statusCode < 200) return;
    this.status = statusCode;
    this.headers = headers;
    if (this.method === "HEAD" || statusCode === 204 || statusCode === 304) return;
    const cl = headers["content-length"];
    const refused = this.body.expect(typeof cl === "string" ? Number(cl) : undefined);
    if (refused !== undefined) controller.abort(new RefusedBody(refused));
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const refused = this.body.push(chunk);
    if (refused !== undefined) controller.abort(new RefusedBody(refused));
  }

  onResponseEnd(): void {
    if (this.settled) return;
    this.settled = true;
    const body = this.body;
    this.resolve({
      status: this.status,
      headers: this.headers,
      body: body.body(),
      release: () => body.release(),
    });
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.body.release();
    this.reject(classify(err, this.started, this.timeoutMs));
  }
}

function classify(err: Error, started: boolean, timeoutMs: number): UpstreamError | StaleConnectionError {
  if (err instanceof RefusedBody) {
    const r = err.refusal;
    return r.reason === "body_budget"
      ? new UpstreamError("overloaded", `logger: no room for the answer: ${r.message}`)
      : new UpstreamError("unreachable", `answer ${r.message}`);
  }
  const e = err as Error & { code?: string; socket?: { bytesRead?: number } };
  switch (e.code) {
    case "UND_ERR_HEADERS_TIMEOUT":
      return new UpstreamError("timeout", `upstream did not answer within ${timeoutMs} ms`);
    case "UND_ERR_BODY_TIMEOUT":
      return new UpstreamError("timeout", `upstream sent nothing of its answer for ${timeoutMs} ms`);
    case "UND_ERR_CONNECT_TIMEOUT":
      return new UpstreamError("unreachable", `could not connect within ${timeoutMs} ms`);
  }
  // the socket had carried earlier answers and closed before any of this one arrived: a keep-alive race
  if (!started && e.code === "UND_ERR_SOCKET" && (e.socket?.bytesRead ?? 0) > 0) {
    return new StaleConnectionError(e.message);
  }
  return new UpstreamError("unreachable", e.code !== undefined ? `${e.code}: ${e.message}` : e.message);
}
