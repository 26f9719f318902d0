/**
 * Checks the rules the API server applies to a CRD's openAPIV3Schema (a "structural schema"), so a bad
 * generated CRD fails a unit test instead of `kubectl apply`. See the Kubernetes docs on structural schemas.
 */
type Schema = Record<string, unknown>;

const allowedKeys = new Set([
  "type",
  "format",
  "title",
  "description",
  "default",
  "maximum",
  "exclusiveMaximum",
  "minimum",
  "exclusiveMinimum",
  "maxLength",
  "minLength",
  "pattern",
  "maxItems",
  "minItems",
  "multipleOf",
  "enum",
  "maxProperties",
  "minProperties",
  "required",
  "items",
  "allOf",
  "oneOf",
  "anyOf",
  "not",
  "properties",
  "additionalProperties",
  "nullable",
  "example",
  "externalDocs",
  "x-kubernetes-preserve-unknown-fields",
  "x-kubernetes-embedded-resource",
  "x-kubernetes-int-or-string",
  "x-kubernetes-list-map-keys",
  "x-kubernetes-list-type",
  "x-kubernetes-map-type",
  "x-kubernetes-validations",
]);
const types = new Set(["object", "array", "string", "integer", "number", "boolean"]);
/** Inside allOf/anyOf/oneOf/not only value validations are allowed, never structure. */
const forbiddenInJunctors = [
  "type",
  "description",
  "default",
  "additionalProperties",
  "nullable",
  "x-kubernetes-preserve-unknown-fields",
];

export function structuralErrors(schema: Schema, path = "openAPIV3Schema", inJunctor = false): string[] {
  const errs: string[] = [];
  for (const k of Object.keys(schema))
    if (!allowedKeys.has(k)) errs.push(`${path}: key "${k}" is not allowed`);
  const preserve = schema["x-kubernetes-preserve-unknown-fields"] === true;
  const intOrString = schema["x-kubernetes-int-or-string"] === true;
  if (inJunctor) {
    for (const k of forbiddenInJunctors)
      if (k in schema) errs.push(`${path}: "${k}" is not allowed inside a junctor`);
  } else if (!preserve && !intOrString) {
    if (typeof schema.type !== "string" || !types.has(schema.type)) errs.push(`${path}: type must be set`);
  }
  if (schema.properties && schema.additionalProperties !== undefined)
    errs.push(`${path}: properties and additionalProperties are mutually exclusive`);
  if (schema.type === "array" && (schema.items === undefined || Array.isArray(schema.items)))
    errs.push(`${path}: an array needs one items schema`);
  for (const [name, sub] of Object.entries((schema.properties as Record<string, Schema> | undefined) ?? {}))
    errs.push(...structuralErrors(sub, `${path}.properties.${name}`, inJunctor));
  if (schema.items && !Array.isArray(schema.items))
    errs.push(...structuralErrors(schema.items as Schema, `${path}.items`, inJunctor));
  if (typeof schema.additionalProperties === "object")
    errs.push(
      ...structuralErrors(schema.additionalProperties as Schema, `${path}.additionalProperties`, inJunctor),
    );
  for (const j of ["allOf", "anyOf", "oneOf"])
    for (const [i, sub] of ((schema[j] as Schema[] | undefined) ?? []).entries())
      errs.push(...structuralErrors(sub, `${path}.${j}[${i}]`, true));
  if (schema.default !== undefined) errs.push(...valueErrors(schema.default, schema, `${path}.default`));
  if (schema["x-kubernetes-list-type"] === "map") {
    const keys = (schema["x-kubernetes-list-map-keys"] as string[] | undefined) ?? [];
    const item = (schema.items ?? {}) as Schema;
    const required = new Set((item.required as string[] | undefined) ?? []);
    for (const k of keys) {
      const prop = ((item.properties ?? {}) as Record<string, Schema>)[k];
      if (!prop) errs.push(`${path}: list map key "${k}" is not a property of the items`);
      else if (!required.has(k) && prop.default === undefined)
        errs.push(`${path}: list map key "${k}" must be required or defaulted`);
    }
  }
  return errs;
}

/** A value (e.g. a default) checked against a schema: types, enums, bounds, patterns, required fields. */
export function valueErrors(value: unknown, schema: Schema, path: string): string[] {
  if (schema["x-kubernetes-preserve-unknown-fields"] === true) return [];
  const errs: string[] = [];
  const t = schema.type;
  const actual = Array.isArray(value) ? "array" : value === null ? "null" : typeof value;
  const ok =
    (t === "object" && actual === "object") ||
    (t === "array" && actual === "array") ||
    (t === "string" && actual === "string") ||
    (t === "boolean" && actual === "boolean") ||
    (t === "number" && actual === "number") ||
    (t === "integer" && Number.isInteger(value));
  if (!ok) return [`${path}: expected ${String(t)}, got ${actual}`];
  if (Array.isArray(schema.enum) && !schema.enum.includes(value))
    errs.push(`${path}: not one of the enum values`);
  if (typeof value === "number") {
    if (typeof schema.minimum === "number" && value < schema.minimum) errs.push(`${path}: below minimum`);
    if (typeof schema.maximum === "number" && value > schema.maximum) errs.push(`${path}: above maximum`);
  }
  if (
    typeof value === "string" &&
    typeof schema.pattern === "string" &&
    !new RegExp(schema.pattern).test(value)
  )
    errs.push(`${path}: does not match ${schema.pattern}`);
  if (t === "object") {
    const obj = value as Record<string, unknown>;
    for (const r of (schema.required as string[] | undefined) ?? [])
      if (!(r in obj)) errs.push(`${path}: required field "${r}" missing`);
    const props = (schema.properties ?? {}) as Record<string, Schema>;
    for (const [k, v] of Object.entries(obj)) {
      if (props[k]) errs.push(...valueErrors(v, props[k], `${path}.${k}`));
      else if (schema.properties) errs.push(`${path}: unknown field "${k}" would be pruned`);
    }
  }
  if (t === "array")
    for (const [i, v] of (value as unknown[]).entries())
      errs.push(...valueErrors(v, schema.items as Schema, `${path}[${i}]`));
  return errs;
}
