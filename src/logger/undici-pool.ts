import { createRequire } from "node:module";
import type { Pool as UndiciPool } from "undici";

/**
 * undici's Pool, loaded without undici's index: the index pulls in fetch, WebSocket, caches and mocks,
 * about 9 MB of RSS that a sidecar with a memory budget never uses. The class is the same one; the
 * request API is attached to Dispatcher.prototype exactly as undici's index does it.
 */
const require = createRequire(import.meta.url);
const Dispatcher = require("undici/lib/dispatcher/dispatcher.js") as { prototype: object };
Object.assign(Dispatcher.prototype, require("undici/lib/api/index.js") as object);

export const Pool = require("undici/lib/dispatcher/pool.js") as typeof UndiciPool;
export type Pool = UndiciPool;
