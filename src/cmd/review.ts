import { readTokenFile } from "../events/token.js";
import { UsageError, intFlag, stringFlag, type Command, type ParsedArgs } from "./command.js";

const usage = `Usage: modelship review list MODEL [--state pending|claimed|labeled|all] [--limit N]
       modelship review claim MODEL --reviewer NAME [--count N] [--lease-seconds N]
       modelship review label MODEL EVENT_ID LABEL --reviewer NAME
       modelship review release MODEL EVENT_ID --reviewer NAME

The human review queue in the collector (docs/review.md): predictions marked low-confidence by
spec.monitoring.review. Claim items, look at what the model saw and said, and label them; a label is stored
as a feedback event for the prediction, which the drift job's concept-drift evaluation reads.

LABEL is read as JSON when it is a number, true/false or an array (one label per batch row), else as a string.

Flags:
  --collector URL        the collector (default $MODELSHIP_COLLECTOR_URL, else http://127.0.0.1:9090;
                         e.g. kubectl port-forward -n modelship-system svc/modelship-collector 9090)
  --token-file FILE      the collector's API token (default: $MODELSHIP_COLLECTOR_TOKEN when set)
  --reviewer NAME        who reviews (claim, label, release)
  --state S              list only items in this state (default pending)
  --limit N              list at most N items, lowest confidence first (default 20)
  --count N              claim up to N items (default 1, at most 100)
  --lease-seconds N      how long a claim holds; then the items are pending again (default 900)
  -o, --output FORMAT    table (default) | json`;

type Obj = Record<string, unknown>;

/** A LABEL argument: a number, boolean or array when it reads as JSON, else the string as given. */
export function parseLabel(text: string): number | string | boolean | unknown[] {
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v === "number" || typeof v === "boolean" || Array.isArray(v)) return v;
  } catch {
    // not JSON: a class name
  }
  return text;
}

function short(v: unknown, width: number): string {
  const s = v === undefined ? "-" : typeof v === "string" ? v : JSON.stringify(v);
  return s.length > width ? s.slice(0, width - 1) + "…" : s;
}

/** One line per item: id, state, top probability, what the model said and saw. */
export function itemTable(items: Obj[]): string {
  const head = ["EVENT ID", "STATE", "TOP P", "PREDICTION", "INPUT", "CLAIMED BY"];
  const rows = items.map((i) => {
    const claim = i.claim as { reviewer?: string; until?: string } | undefined;
    const label = i.label as { value?: unknown } | undefined;
    return [
      String(i.eventId),
      String(i.state ?? (label ? "labeled" : claim ? "claimed" : "pending")),
      Number(i.topProbability).toFixed(3),
      short((i.predictions as unknown[] | undefined)?.[0], 40),
      short((i.features as unknown[] | undefined)?.[0] ?? i.inputs, 60),
      label ? `labeled ${short(label.value, 20)}` : claim ? `${claim.reviewer} until ${claim.until}` : "-",
    ];
  });
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  return [head, ...rows]
    .map((r) =>
      r
        .map((v, c) => v.padEnd(widths[c]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

async function call(
  base: string,
  token: string | undefined,
  method: "GET" | "POST",
  path: string,
  body?: Obj,
): Promise<{ status: number; body: Obj }> {
  let res: Response;
  try {
    res = await fetch(`${base.replace(/\/$/, "")}${path}`, {
      method,
      headers: {
        ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    throw new Error(`collector ${base} unreachable: ${String((err as Error).cause ?? err)}`);
  }
  const text = await res.text();
  let parsed: Obj;
  try {
    parsed = JSON.parse(text) as Obj;
  } catch {
    parsed = { error: text.slice(0, 500) };
  }
  return { status: res.status, body: parsed };
}

function reviewer(args: ParsedArgs): string {
  const r = stringFlag(args, "reviewer");
  if (r === undefined || r.trim() === "") throw new UsageError("--reviewer NAME is required: who reviews");
  return r;
}

export const command: Command = {
  name: "review",
  summary: "The human review queue: list, claim and label low-confidence predictions",
  usage,
  allowPositionals: true,
  options: {
    collector: { type: "string" },
    "token-file": { type: "string" },
    reviewer: { type: "string" },
    state: { type: "string" },
    limit: { type: "string" },
    count: { type: "string" },
    "lease-seconds": { type: "string" },
    output: { type: "string", short: "o" },
  },
  async run(args) {
    const [action, model, ...rest] = args.positionals;
    if (action === undefined || !["list", "claim", "label", "release"].includes(action))
      throw new UsageError(`the first argument must be list, claim, label or release, got "${action ?? ""}"`);
    if (model === undefined || model === "") throw new UsageError(`review ${action} needs the MODEL name`);
    const output = stringFlag(args, "output") ?? "table";
    if (output !== "table" && output !== "json")
      throw new UsageError(`--output must be table or json, got "${output}"`);
    const base =
      stringFlag(args, "collector") ?? process.env.MODELSHIP_COLLECTOR_URL ?? "http://127.0.0.1:9090";
    const tokenFile = stringFlag(args, "token-file");
    let token = process.env.MODELSHIP_COLLECTOR_TOKEN || undefined;
    if (tokenFile !== undefined) {
      try {
        token = await readTokenFile(tokenFile);
      } catch (err) {
        throw new UsageError(`--token-file: ${(err as Error).message}`);
      }
    }
    const m = encodeURIComponent(model);
    let r: { status: number; body: Obj };
    try {
      if (action === "list") {
        if (rest.length > 0)
          throw new UsageError(`review list takes MODEL only, got also "${rest.join(" ")}"`);
        const state = stringFlag(args, "state") ?? "pending";
        const limit = intFlag(args, "limit", 20, 1);
        r = await call(
          base,
          token,
          "GET",
          `/v1/review/${m}?state=${encodeURIComponent(state)}&limit=${limit}`,
        );
      } else if (action === "claim") {
        if (rest.length > 0)
          throw new UsageError(`review claim takes MODEL only, got also "${rest.join(" ")}"`);
        r = await call(base, token, "POST", `/v1/review/${m}/claim`, {
          reviewer: reviewer(args),
          count: intFlag(args, "count", 1, 1),
          leaseSeconds: intFlag(args, "lease-seconds", 900, 10),
        });
      } else if (action === "label") {
        const [eventId, label] = rest;
        if (eventId === undefined || label === undefined || rest.length > 2)
          throw new UsageError("review label needs MODEL EVENT_ID LABEL, e.g. review label iris 1f0c… 2");
        r = await call(base, token, "POST", `/v1/review/${m}/${encodeURIComponent(eventId)}/label`, {
          reviewer: reviewer(args),
          label: parseLabel(label),
        });
      } else {
        const [eventId] = rest;
        if (eventId === undefined || rest.length > 1)
          throw new UsageError("review release needs MODEL EVENT_ID");
        r = await call(base, token, "POST", `/v1/review/${m}/${encodeURIComponent(eventId)}/release`, {
          reviewer: reviewer(args),
        });
      }
    } catch (err) {
      if (err instanceof UsageError) throw err;
      process.stderr.write(`modelship review ${action}: ${(err as Error).message}\n`);
      return 1;
    }
    if (r.status >= 300) {
      process.stderr.write(
        `modelship review ${action}: collector answered ${r.status}: ${String(r.body.error)}\n`,
      );
      return 1;
    }
    if (output === "json") {
      process.stdout.write(JSON.stringify(r.body, null, 2) + "\n");
      return 0;
    }
    if (action === "label")
      process.stdout.write(
        `Labeled ${String(r.body.eventId)}: feedback event ${String(r.body.feedbackId)}\n`,
      );
    else if (action === "release") process.stdout.write(`Released ${String(r.body.eventId)}\n`);
    else {
      const items = (r.body.items as Obj[] | undefined) ?? [];
      if (action === "list") {
        const c = r.body.counts as Record<string, number>;
        process.stdout.write(`${model}: ${c.pending} pending, ${c.claimed} claimed, ${c.labeled} labeled\n`);
      } else process.stdout.write(`Claimed ${items.length} item(s) of ${model}\n`);
      if (items.length > 0) process.stdout.write(itemTable(items) + "\n");
    }
    return 0;
  },
};
