/** An error answer from the API server, with its HTTP code and Status reason. */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly verb: string,
    readonly path: string,
  ) {
    super(`${verb} ${path}: ${code} ${reason}: ${message}`);
  }
}

export const isNotFound = (e: unknown): boolean => e instanceof ApiError && e.code === 404;
export const isConflict = (e: unknown): boolean => e instanceof ApiError && e.code === 409;
export const isGone = (e: unknown): boolean => e instanceof ApiError && e.code === 410;
/** The NamespaceLifecycle admission's refusal: nothing new can be created in a namespace being deleted. */
export const isNamespaceTerminating = (e: unknown): boolean =>
  e instanceof ApiError && e.code === 403 && /because it is being terminated/.test(e.message);

/**
 * The API server refused a written object as invalid (schema, admission, or server-side apply's typed
 * patch, e.g. duplicate list-map keys): the same object will be refused again, so retrying cannot help.
 */
export const isRejectedObject = (e: unknown): boolean =>
  e instanceof ApiError &&
  (e.code === 400 ||
    e.code === 422 ||
    (e.code === 500 && /failed to create typed patch object/.test(e.message)));

/** A spec that can never work as written: report it in status and retry slowly, never hot-loop. */
export class TerminalError extends Error {
  override name = "TerminalError";
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}
