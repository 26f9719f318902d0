import type { RolloutStatus } from "./types.js";

type Cond = RolloutStatus["conditions"][number];

/** Condition reasons the rollout sets; exported so the controller, CLI and e2e tests can match on them. */
export const reasons = {
  // Progressing
  rolloutStarted: "RolloutStarted",
  waitingForReplicas: "WaitingForReplicas",
  stepInProgress: "StepInProgress",
  analysisRunning: "AnalysisRunning",
  loadTestRunning: "LoadTestRunning",
  promoting: "Promoting",
  rolloutComplete: "RolloutComplete",
  rolloutPaused: "RolloutPaused",
  // Paused
  pausedByStep: "PausedByStep",
  waitingForPromotion: "WaitingForPromotion",
  analysisInconclusive: "AnalysisInconclusive",
  loadTestInconclusive: "LoadTestInconclusive",
  notPaused: "NotPaused",
  // RolledBack (and Progressing False when autoRollback is off)
  aborted: "Aborted",
  analysisFailed: "AnalysisFailed",
  loadTestFailed: "LoadTestFailed",
  podsFailed: "PodsFailed",
  progressDeadlineExceeded: "ProgressDeadlineExceeded",
  driftDetected: "DriftDetected",
  notRolledBack: "NotRolledBack",
  // WaitingForCapacity
  insufficientGPU: "InsufficientGPU",
  insufficientResources: "InsufficientResources",
  maxSurgeGPUs: "MaxSurgeGPUs",
  capacityAvailable: "CapacityAvailable",
} as const;

export interface ConditionInput {
  progressing: { status: boolean; reason: string; message: string };
  paused?: { reason: string; message: string };
  rolledBack?: { reason: string; message: string };
  waiting?: { reason: string; message: string };
}

/** The four conditions the rollout owns, always all present so a cleared one flips to False. */
export function rolloutConditions(c: ConditionInput): Cond[] {
  const flag = (
    type: string,
    v: { reason: string; message: string } | undefined,
    off: string,
    offMsg: string,
  ) =>
    v
      ? { type, status: "True" as const, reason: v.reason, message: v.message }
      : { type, status: "False" as const, reason: off, message: offMsg };
  return [
    {
      type: "Progressing",
      status: c.progressing.status ? "True" : "False",
      reason: c.progressing.reason,
      message: c.progressing.message,
    },
    flag("Paused", c.paused, reasons.notPaused, "the rollout is not paused"),
    flag("RolledBack", c.rolledBack, reasons.notRolledBack, "no rollback in effect"),
    flag("WaitingForCapacity", c.waiting, reasons.capacityAvailable, "no capacity shortage"),
  ];
}
