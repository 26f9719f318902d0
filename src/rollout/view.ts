import type { ModelDeployment } from "../api/v1alpha1/index.js";
import type { Book } from "./book.js";

/** Rows of aligned columns, like kubectl's tables. */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("   ")
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

function describeStep(
  step: NonNullable<ModelDeployment["spec"]["rollout"]["canary"]>["steps"][number],
): string {
  if (step.setWeight !== undefined) return `setWeight ${step.setWeight}%`;
  if (step.pause) return step.pause.duration ? `pause ${step.pause.duration}` : "pause (until promoted)";
  if (step.analysis) return `analysis ${step.analysis.templates.join(", ")}`;
  if (step.setHeaderRoute) {
    return `setHeaderRoute ${step.setHeaderRoute.match.map((m) => `${m.name}${m.type === "Exact" ? "=" : "~"}${m.value}`).join(" & ")}`;
  }
  if (step.setMirror) return `setMirror ${step.setMirror.percent}%`;
  if (step.loadTest) return `loadTest ${step.loadTest.rate}/s for ${step.loadTest.duration}`;
  return "(empty)";
}

function fmtValue(v: number | undefined): string {
  if (v === undefined) return "-";
  return Number.isInteger(v) ? String(v) : v.toPrecision(3);
}

/**
 * `modelship status`: the rollout at a glance — phase and traffic, revisions, the canary steps with the
 * current one marked, the running analysis, conditions and recent history. Pure: ModelDeployment -> text.
 */
export function formatStatus(md: ModelDeployment, now: Date = new Date()): string {
  const st = md.status ?? {};
  const book = (st.rollout ?? {}) as Book;
  const ns = md.metadata.namespace ?? "default";
  const out: string[] = [];
  const strategy = md.spec.rollout.strategy;
  out.push(
    ...table(
      ["", ""],
      [
        ["Name:", `${ns}/${md.metadata.name}`],
        ["Strategy:", `${strategy} (traffic: ${md.spec.traffic.provider})`],
        ["Phase:", st.phase ?? "Unknown"],
        [
          "Model:",
          `${md.spec.model.name} ${st.modelVersion ?? "?"} serving; spec wants ${md.spec.model.version}`,
        ],
        ...(md.spec.additionalModels?.length
          ? [["Also serves:", md.spec.additionalModels.map((m) => `${m.name} ${m.version}`).join(", ")]]
          : []),
        ["Stable:", st.stableRevision ?? "-"],
        ["Candidate:", st.canaryRevision ?? "-"],
        ["Traffic:", st.traffic ?? "-"],
        ...(st.endpoint ? [["Endpoint:", st.endpoint]] : []),
        ...(st.message ? [["Message:", st.message]] : []),
      ],
    ).slice(1),
  );

  if (st.revisions?.length) {
    out.push("", "Revisions:");
    out.push(
      ...table(
        ["  REVISION", "ROLE", "MODEL VERSION", "READY", "WEIGHT"],
        st.revisions.map((r) => [
          `  ${r.name}`,
          r.role,
          r.modelVersion,
          `${r.readyReplicas ?? 0}/${r.replicas ?? 0}`,
          r.weight !== undefined ? `${r.weight}%` : "-",
        ]),
      ),
    );
  }

  const steps = md.spec.rollout.canary?.steps;
  if (strategy === "canary" && steps) {
    const current = st.canaryRevision !== undefined ? (st.currentStepIndex ?? 0) : undefined;
    out.push(
      "",
      `Steps${current !== undefined ? ` (at ${Math.min(current + 1, steps.length)}/${steps.length})` : ""}:`,
    );
    steps.forEach((s, i) => {
      const mark = current === undefined ? " " : i < current ? "✓" : i === current ? "▶" : " ";
      out.push(`  ${mark} ${String(i + 1).padStart(2)}. ${describeStep(s)}`);
    });
    if (current !== undefined && current >= steps.length)
      out.push("  ▶     promoting: scaling the candidate to full size");
    if (book.headerRoute || book.mirror) {
      const parts = [
        ...(book.headerRoute
          ? [`header route ${book.headerRoute.match.map((m) => `${m.name}=${m.value}`).join(" & ")}`]
          : []),
        ...(book.mirror ? [`mirror ${book.mirror.percent}%`] : []),
      ];
      out.push(`  active: ${parts.join(", ")}`);
    }
  } else if (strategy === "blueGreen" && st.canaryRevision) {
    out.push(
      "",
      `Preview: ${md.metadata.name}-preview -> ${st.canaryRevision}${book.previewReadyAt ? ` (ready since ${book.previewReadyAt})` : " (not ready)"}`,
    );
  }

  const run = book.analysis;
  if (run && run.results?.length) {
    const label = run.step < 0 ? "pre-promotion" : `step ${run.step + 1}`;
    out.push("", `Analysis (${label}, since ${run.startedAt}):`);
    out.push(
      ...table(
        ["  TEMPLATE", "TIME", "VALUE", "STABLE", "RESULT", "MESSAGE"],
        run.results
          .slice(-12)
          .map((r) => [
            `  ${r.template}`,
            r.time,
            fmtValue(r.value),
            fmtValue(r.stableValue),
            r.phase,
            r.message,
          ]),
      ),
    );
  }
  const lt = st.loadTest;
  if (lt) {
    const label = lt.step < 0 ? "pre-promotion" : `step ${lt.step + 1}`;
    out.push(
      "",
      `Load test (${label}, revision ${lt.revision}): ${lt.phase}${lt.verdict ? `, ${lt.verdict}` : ""}`,
    );
    const side = (name: string, f: NonNullable<typeof lt.candidate>) => [
      `  ${name}`,
      String(f.requests),
      String(f.errors),
      fmtValue(f.p50Ms),
      fmtValue(f.p99Ms),
      fmtValue(f.memoryMiB),
    ];
    const rows = [
      ...(lt.candidate ? [side("candidate", lt.candidate)] : []),
      ...(lt.stable ? [side("stable", lt.stable)] : []),
    ];
    if (rows.length)
      out.push(...table(["  SIDE", "REQUESTS", "ERRORS", "P50 MS", "P99 MS", "MEMORY MIB"], rows));
    if (lt.message) out.push(`  ${lt.message}`);
  }
  if (book.aborted) {
    out.push(
      "",
      `Rolled back: ${book.aborted.revision} (${book.aborted.reason}) at ${book.aborted.at}: ${book.aborted.message}`,
    );
    out.push(`  run 'modelship retry ${md.metadata.name} -n ${ns}' to try it again, or change the spec`);
  }

  if (st.conditions?.length) {
    out.push("", "Conditions:");
    out.push(
      ...table(
        ["  TYPE", "STATUS", "REASON", "AGE", "MESSAGE"],
        st.conditions.map((c) => [
          `  ${c.type}`,
          c.status,
          c.reason,
          age(c.lastTransitionTime, now),
          c.message,
        ]),
      ),
    );
  }
  if (st.history?.length) {
    out.push("", "History:");
    out.push(
      ...table(
        ["  REVISION", "MODEL VERSION", "OUTCOME", "TIME", "REASON"],
        st.history
          .slice(-8)
          .map((h) => [`  ${h.revision}`, h.modelVersion, h.outcome, h.time, h.reason ?? ""]),
      ),
    );
  }
  if (st.drift?.verdict) {
    out.push(
      "",
      `Drift: ${st.drift.verdict}${st.drift.score !== undefined ? ` (score ${fmtValue(st.drift.score)})` : ""} at ${st.drift.lastRun ?? "?"}`,
    );
    const drifted = (st.drift.features ?? []).filter((f) => f.drifted);
    if (drifted.length)
      out.push(
        `  Drifted: ${drifted.map((f) => `${f.name} (${f.statistic} ${fmtValue(f.value)})`).join(", ")}`,
      );
    if (st.drift.message) out.push(`  ${st.drift.message}`);
    if (st.drift.reportRef) out.push(`  Report: ${st.drift.reportRef}`);
  }
  return out.join("\n") + "\n";
}

/** A kubectl-style age: 45s, 12m, 3h, 2d. */
export function age(time: string | undefined, now: Date): string {
  if (!time) return "-";
  const s = Math.max(0, Math.floor((now.getTime() - Date.parse(time)) / 1000));
  if (Number.isNaN(s)) return "-";
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}
