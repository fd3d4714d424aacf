export interface FieldChange {
  field: string;
  before: unknown;
  after: unknown;
}

/** The fields whose value differs between two stored JSON objects (either may be absent). */
export function fieldChanges(beforeJson: string | null, afterJson: string | null): FieldChange[] {
  const before = beforeJson ? (JSON.parse(beforeJson) as Record<string, unknown>) : {};
  const after = afterJson ? (JSON.parse(afterJson) as Record<string, unknown>) : {};
  return [...new Set([...Object.keys(before), ...Object.keys(after)])]
    .filter((field) => JSON.stringify(before[field] ?? null) !== JSON.stringify(after[field] ?? null))
    .map((field) => ({ field, before: before[field] ?? null, after: after[field] ?? null }));
}
