/** Label keys every child carries, so the controller can find, select and prune what it owns. */
export const labelKeys = {
  name: "app.kubernetes.io/name",
  instance: "app.kubernetes.io/instance",
  component: "app.kubernetes.io/component",
  managedBy: "app.kubernetes.io/managed-by",
  partOf: "app.kubernetes.io/part-of",
  version: "app.kubernetes.io/version",
  deployment: "modelship.io/deployment",
  revision: "modelship.io/revision",
  modelVersion: "modelship.io/model-version",
} as const;

export const managedBy = "modelship";

/** Labels on every child of a ModelDeployment: the selector the controller lists and prunes by. */
export function ownerLabels(mdName: string): Record<string, string> {
  return { [labelKeys.deployment]: mdName, [labelKeys.managedBy]: managedBy };
}

export function commonLabels(mdName: string, component: string): Record<string, string> {
  return {
    [labelKeys.name]: "modelship",
    [labelKeys.instance]: mdName,
    [labelKeys.component]: component,
    [labelKeys.partOf]: "modelship",
    ...ownerLabels(mdName),
  };
}

/** A label value: at most 63 characters of [A-Za-z0-9_.-], starting and ending alphanumeric. */
export function labelValue(s: string): string {
  const cleaned = s.replace(/[^A-Za-z0-9_.-]/g, "-").slice(0, 63);
  return cleaned.replace(/^[^A-Za-z0-9]+/, "").replace(/[^A-Za-z0-9]+$/, "");
}

export function podSelector(mdName: string, revision?: string): Record<string, string> {
  return revision
    ? { [labelKeys.deployment]: mdName, [labelKeys.revision]: revision }
    : { [labelKeys.deployment]: mdName };
}

export function selectorString(sel: Record<string, string>): string {
  return Object.entries(sel)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
}
