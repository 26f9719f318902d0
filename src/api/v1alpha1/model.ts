import { z } from "zod";
import { dnsLabel, uri, uriRule } from "./common.js";
import { withRules } from "./rules.js";

export const featureTypes = ["numeric", "categorical", "boolean", "string"] as const;

export const Feature = z
  .object({
    name: z
      .string()
      .min(1)
      .max(128)
      .describe("Feature name as it appears in requests and in the training data."),
    type: z.enum(featureTypes).describe("numeric, categorical, boolean or string."),
    categories: z
      .array(z.string().max(256))
      .max(1024)
      .optional()
      .describe("Known values of a categorical feature; any other value is reported as a new category."),
    min: z.number().optional().describe("Smallest valid value of a numeric feature (integrity check)."),
    max: z.number().optional().describe("Largest valid value of a numeric feature (integrity check)."),
  })
  .describe("One input feature of the model.");

export const Model = withRules(
  z.object({
    name: dnsLabel("spec.model.name").describe(
      "Model name, used in the Open Inference Protocol route /v2/models/{name}.",
    ),
    version: z
      .string()
      .min(1)
      .max(63)
      .regex(
        /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/,
        "spec.model.version must be letters, digits, '-', '_' or '.'",
      )
      .describe("Model version; a change rolls out a new revision."),
    uri: uri.describe(
      "Where the model file lives: https://, s3://BUCKET/KEY, gs://BUCKET/KEY, pvc://CLAIM/path or file:// (tests).",
    ),
    sha256: z
      .string()
      .regex(/^[a-f0-9]{64}$/, "spec.model.sha256 must be 64 lower-case hex characters")
      .optional()
      .describe("Expected SHA-256 of the model file; the pod refuses to start on a mismatch."),
    format: z
      .enum(["onnx", "custom"])
      .default("onnx")
      .describe("onnx runs on the built-in onnxruntime server; custom needs spec.runtime.container."),
    credentialsSecret: dnsLabel("spec.model.credentialsSecret")
      .optional()
      .describe(
        "Secret whose keys become environment variables of the download step (e.g. AWS_ACCESS_KEY_ID).",
      ),
    task: z
      .enum(["classification", "regression", "other"])
      .default("other")
      .describe(
        "What the model predicts; picks the quality metrics (accuracy/F1 or RMSE/MAE) for concept drift.",
      ),
    features: z
      .array(Feature)
      .max(512)
      .optional()
      .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"] })
      .describe("Feature schema used by request logging and drift evaluation (names in input order)."),
  }),
  [
    uriRule("uri", "spec.model.uri", (m) => m.uri),
    {
      cel: "!self.uri.startsWith('pvc://') || self.uri.matches('^pvc://[a-z0-9]([-a-z0-9]*[a-z0-9])?/.+')",
      check: (m) => !m.uri.startsWith("pvc://") || /^pvc:\/\/[a-z0-9]([-a-z0-9]*[a-z0-9])?\/.+/.test(m.uri),
      message: "spec.model.uri: a pvc uri must be pvc://CLAIM/path/to/model.onnx",
      field: ["uri"],
    },
    {
      cel: "!has(self.features) || self.features.all(f, f.type == 'categorical' || !has(f.categories))",
      check: (m) => (m.features ?? []).every((f) => f.type === "categorical" || f.categories === undefined),
      message: "spec.model.features: categories are only allowed on features of type categorical",
      field: ["features"],
    },
  ],
).describe("The model to serve: where it is, what version, and what its inputs look like.");

/** Most models one ModelDeployment serves besides spec.model: each adds an init container and a worker's model. */
export const maxAdditionalModels = 8;

const additional = "spec.additionalModels[]";

export const AdditionalModel = withRules(
  z.object({
    name: dnsLabel(`${additional}.name`).describe(
      "Model name, used in the Open Inference Protocol route /v2/models/{name}; unique, and not spec.model.name.",
    ),
    version: z
      .string()
      .min(1)
      .max(63)
      .regex(
        /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/,
        `${additional}.version must be letters, digits, '-', '_' or '.'`,
      )
      .describe("Model version; a change rolls out a new revision of the whole ModelDeployment."),
    uri: uri.describe(
      "Where the model file lives: https://, s3://BUCKET/KEY, gs://BUCKET/KEY, pvc://CLAIM/path or file:// (tests).",
    ),
    sha256: z
      .string()
      .regex(/^[a-f0-9]{64}$/, `${additional}.sha256 must be 64 lower-case hex characters`)
      .optional()
      .describe("Expected SHA-256 of the model file; the pod refuses to start on a mismatch."),
    credentialsSecret: dnsLabel(`${additional}.credentialsSecret`)
      .optional()
      .describe("Secret whose keys become environment variables of this model's download step."),
    features: z
      .array(Feature)
      .max(512)
      .optional()
      .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"] })
      .describe("Feature schema of this model's inference events (names in input order)."),
  }),
  [
    uriRule("uri", `${additional}.uri`, (m) => m.uri),
    {
      cel: "!self.uri.startsWith('pvc://') || self.uri.matches('^pvc://[a-z0-9]([-a-z0-9]*[a-z0-9])?/.+')",
      check: (m) => !m.uri.startsWith("pvc://") || /^pvc:\/\/[a-z0-9]([-a-z0-9]*[a-z0-9])?\/.+/.test(m.uri),
      message: `${additional}.uri: a pvc uri must be pvc://CLAIM/path/to/model.onnx`,
      field: ["uri"],
    },
    {
      cel: "!has(self.features) || self.features.all(f, f.type == 'categorical' || !has(f.categories))",
      check: (m) => (m.features ?? []).every((f) => f.type === "categorical" || f.categories === undefined),
      message: `${additional}.features: categories are only allowed on features of type categorical`,
      field: ["features"],
    },
  ],
).describe(
  "Another ONNX model served by the same pods beside spec.model, at /v2/models/{name}; its events carry its name.",
);
