export interface FieldChange {
  field: string;
  before: unknown;
  after: unknown;
}

/** The fields whose value differs between two stored JSON objects (either may be absent). */
export function fieldChanges(beforeJson: string | null, afterJson: string | null): FieldChange[] {
  return fieldChangesBetween(beforeJson ? JSON.parse(beforeJson) : null, afterJson ? JSON.parse(afterJson) : null);
}

/** The same for objects already parsed, for a caller that reads them too. */
export function fieldChangesBetween(beforeOrNull: Record<string, unknown> | null, afterOrNull: Record<string, unknown> | null): FieldChange[] {
  const before = withCustomFlat(beforeOrNull ?? {});
  const after = withCustomFlat(afterOrNull ?? {});
  return [...new Set([...Object.keys(before), ...Object.keys(after)])]
    .filter((field) => !sameValue(before[field] ?? null, after[field] ?? null))
    .map((field) => ({ field, before: before[field] ?? null, after: after[field] ?? null }));
}

// Plain values compare as they are; only objects and arrays need their JSON compared.
const sameValue = (a: unknown, b: unknown) => a === b || (typeof a === 'object' && typeof b === 'object' && JSON.stringify(a) === JSON.stringify(b));

/**
 * A whole user's values (a create's after, a delete's before) hold the custom fields as one
 * `custom` object; an update names them `custom.<name>`, as the user's fields do everywhere
 * else. Shown the same way both times, not as a line of JSON.
 */
function withCustomFlat(values: Record<string, unknown>): Record<string, unknown> {
  const custom = values.custom;
  if (!custom || typeof custom !== 'object' || Array.isArray(custom)) return values;
  const flat: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const [name, value] of Object.entries(values)) if (name !== 'custom') flat[name] = value;
  for (const [name, value] of Object.entries(custom as Record<string, unknown>)) flat[`custom.${name}`] = value;
  return flat;
}
