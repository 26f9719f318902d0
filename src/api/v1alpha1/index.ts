/** modelship.io/v1alpha1: the zod schemas are the one source of truth for types, validation and the CRD. */
export * from "./modeldeployment.js";
export * from "./model.js";
export * from "./runtime.js";
export * from "./resources.js";
export * from "./autoscaling.js";
export * from "./rollout.js";
export * from "./observability.js";
export * from "./status.js";
export { type Rule } from "./rules.js";
export * from "./validate.js";
