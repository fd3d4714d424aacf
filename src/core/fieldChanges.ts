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
  const before = beforeOrNull ?? {};
  const after = afterOrNull ?? {};
  return [...new Set([...Object.keys(before), ...Object.keys(after)])]
    .filter((field) => !sameValue(before[field] ?? null, after[field] ?? null))
    .map((field) => ({ field, before: before[field] ?? null, after: after[field] ?? null }));
}

// Plain values compare as they are; only objects and arrays need their JSON compared.
const sameValue = (a: unknown, b: unknown) => a === b || (typeof a === 'object' && typeof b === 'object' && JSON.stringify(a) === JSON.stringify(b));
