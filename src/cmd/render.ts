import { readFileSync } from "node:fs";
import yaml from "js-yaml";
import { formatErrors, parseModelDeployment } from "../api/v1alpha1/index.js";
import { defaultRenderConfig } from "../render/config.js";
import { canaryPlan, PlanFile, planFromFile } from "../render/plan-file.js";
import { stablePlan } from "../render/plan.js";
import { render } from "../render/render.js";
import { intFlag, requiredFlag, stringFlag, UsageError, type Command } from "./command.js";

export const command: Command = {
  name: "render",
  summary: "Render a ModelDeployment into Kubernetes objects (offline)",
  usage: [
    "Usage: modelship render -f FILE [--plan FILE | --canary-weight N --stable-version V] [--image IMAGE]",
    "",
    "Prints the child objects the controller would apply, as multi-document YAML. Offline: for GitOps and CI.",
    "  -f, --filename FILE     the ModelDeployment (YAML or JSON; '-' for stdin)",
    "  --plan FILE             a rollout plan (revisions, weights, headerRoute, mirror) to render",
    "  --canary-weight N       render the spec as canary at N percent ...",
    "  --stable-version V      ... beside stable version V",
    "  --image IMAGE           the modelship image (default " + defaultRenderConfig.image + ")",
    "  --namespace NS          namespace when metadata.namespace is empty (default: default)",
  ].join("\n"),
  options: {
    filename: { type: "string", short: "f" },
    plan: { type: "string" },
    "canary-weight": { type: "string" },
    "stable-version": { type: "string" },
    image: { type: "string" },
    namespace: { type: "string", short: "n" },
  },
  async run(args) {
    const file = requiredFlag(args, "filename");
    const text = readFileSync(file === "-" ? 0 : file, "utf8");
    const raw = yaml.load(text) as Record<string, unknown> | undefined;
    if (!raw || typeof raw !== "object") throw new UsageError(`${file} holds no object`);
    const meta = (raw.metadata ?? {}) as Record<string, unknown>;
    raw.metadata = { ...meta, namespace: meta.namespace ?? stringFlag(args, "namespace") ?? "default" };
    const parsed = parseModelDeployment(raw);
    if (!parsed.ok) {
      process.stderr.write(`${file} is not a valid ModelDeployment:\n${formatErrors(parsed.errors)}\n`);
      return 1;
    }
    const md = parsed.value;
    let plan = stablePlan(md);
    const planPath = stringFlag(args, "plan");
    const weight = stringFlag(args, "canary-weight");
    if (planPath) {
      const p = PlanFile.safeParse(yaml.load(readFileSync(planPath, "utf8")));
      if (!p.success)
        throw new UsageError(
          `--plan ${planPath}: ${p.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
        );
      plan = planFromFile(md, p.data);
    } else if (weight !== undefined) {
      const w = intFlag(args, "canary-weight", 0);
      if (w > 100) throw new UsageError("--canary-weight must be between 0 and 100");
      plan = canaryPlan(md, w, requiredFlag(args, "stable-version"));
    }
    const cfg = { ...defaultRenderConfig, image: stringFlag(args, "image") ?? defaultRenderConfig.image };
    const { objects } = render(md, plan, cfg);
    process.stdout.write(objects.map((o) => yaml.dump(o, { lineWidth: -1, noRefs: true })).join("---\n"));
    return 0;
  },
};
