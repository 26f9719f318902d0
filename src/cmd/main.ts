import { parseCommandArgs, UsageError, type Command } from "./command.js";

/** Every command, loaded lazily so `modelship serve` never pays for the controller's imports. */
const commands: Record<string, { summary: string; load: () => Promise<{ command: Command }> }> = {
  batch: { summary: "Run batch predictions over a JSONL or CSV file", load: () => import("./batch.js") },
  controller: {
    summary: "Run the operator: reconcile ModelDeployments",
    load: () => import("./controller.js"),
  },
  fetch: { summary: "Download and verify a model (init container)", load: () => import("./fetch.js") },
  serve: {
    summary: "Serve ONNX models over the Open Inference Protocol v2",
    load: () => import("./serve.js"),
  },
  logger: { summary: "Inference logger sidecar (proxy, events, spool)", load: () => import("./logger.js") },
  collector: { summary: "Inference event store (dedupe, export)", load: () => import("./collector.js") },
  crds: {
    summary: "Print or write the generated CustomResourceDefinitions",
    load: () => import("./crds.js"),
  },
  monitoring: {
    summary: "Print or write the Grafana dashboard and Prometheus alert rules",
    load: () => import("./monitoring.js"),
  },
  render: {
    summary: "Render a ModelDeployment into Kubernetes objects (offline)",
    load: () => import("./render.js"),
  },
  baseline: { summary: "Profile training data into a drift baseline", load: () => import("./baseline.js") },
  status: { summary: "Show a rollout: steps, weights, analysis, history", load: () => import("./status.js") },
  promote: {
    summary: "Promote a paused rollout (--full: skip remaining steps)",
    load: () => import("./promote.js"),
  },
  abort: { summary: "Abort a rollout: traffic back to stable", load: () => import("./abort.js") },
  retry: { summary: "Retry a rolled-back candidate from step 0", load: () => import("./retry.js") },
  rollback: {
    summary: "Roll back to an earlier promoted revision (--to-revision)",
    load: () => import("./rollback.js"),
  },
  loadtest: {
    summary: "Load a model's Service and judge latency, errors and memory",
    load: () => import("./loadtest.js"),
  },
  review: { summary: "Human review queue: list, claim, label", load: () => import("./review.js") },
  drift: {
    summary: "Evaluate drift of logged inference events against a baseline",
    load: () => import("./drift.js"),
  },
};

function topUsage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return [
    "Usage: modelship <command> [flags]",
    "",
    "Commands:",
    ...lines,
    "",
    "Run 'modelship <command> --help' for a command's flags.",
  ].join("\n");
}

/** Returns the process exit code: 0 ok, 1 failure, 2 usage error. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(topUsage() + "\n");
    return name === undefined ? 2 : 0;
  }
  if (name === "--version" || name === "version") {
    const { version } = await import("../version.js");
    process.stdout.write(version + "\n");
    return 0;
  }
  const entry = commands[name];
  if (!entry) {
    process.stderr.write(`modelship: unknown command "${name}"\n\n${topUsage()}\n`);
    return 2;
  }
  const { command } = await entry.load();
  try {
    const args = parseCommandArgs(command, rest);
    if (args.values.help === true) {
      process.stdout.write(command.usage + "\n");
      return 0;
    }
    return await command.run(args);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`modelship ${name}: ${err.message}\n\n${command.usage}\n`);
      return 2;
    }
    throw err;
  }
}
