// Client values quoted in error messages, bounded: a 400 must not echo megabytes back.

const MAX_QUOTE = 200;

/** Plain text cut to about `max` characters, with the full size noted. */
export function clip(text: string, max = MAX_QUOTE): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}…(${Buffer.byteLength(text)} bytes)`;
}

/**
 * JSON text of `value` (or its type, for values JSON cannot show), cut to about `max` characters.
 * Callers only quote values from a depth-checked body, so JSON.stringify cannot overflow the stack.
 */
export function quote(value: unknown, max = MAX_QUOTE): string {
  // Cut long strings before escaping them, so a multi-megabyte name is not escaped in full.
  if (typeof value === "string" && value.length > max) {
    return `${JSON.stringify(value.slice(0, max))}…(${Buffer.byteLength(value)} bytes)`;
  }
  return clip(JSON.stringify(value) ?? typeof value, max);
}
