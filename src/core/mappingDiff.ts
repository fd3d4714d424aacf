export interface MappingChange {
  /** `users.fields.jobTitle`, `users.key`, `groups`… */
  path: string;
  before: string | null;
  after: string | null;
}

const text = (v: unknown) => (v === undefined ? null : JSON.stringify(v));

function parse(controlFile: string | null): Record<string, unknown> {
  try {
    const value: unknown = controlFile ? JSON.parse(controlFile) : {};
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/**
 * What a control file maps differently from another, field by field: each user field's mapping
 * on its own, the rest of each mapping section (key, delete, groups, memberships) as a whole.
 * File names, row counts and the mode are not the mapping and are left out.
 */
export function mappingDiff(beforeControl: string | null, afterControl: string | null): MappingChange[] {
  const before = parse(beforeControl);
  const after = parse(afterControl);
  const changes: MappingChange[] = [];
  const compare = (path: string, a: unknown, b: unknown) => {
    if (text(a) !== text(b)) changes.push({ path, before: text(a), after: text(b) });
  };
  const section = (c: Record<string, unknown>, name: string) => (c[name] && typeof c[name] === 'object' ? (c[name] as Record<string, unknown>) : {});
  const usersBefore = section(before, 'users');
  const usersAfter = section(after, 'users');
  const fieldsBefore = section(usersBefore, 'fields');
  const fieldsAfter = section(usersAfter, 'fields');
  for (const field of [...new Set([...Object.keys(fieldsBefore), ...Object.keys(fieldsAfter)])].sort()) compare(`users.fields.${field}`, fieldsBefore[field], fieldsAfter[field]);
  for (const key of [...new Set([...Object.keys(usersBefore), ...Object.keys(usersAfter)])].filter((k) => k !== 'fields').sort()) compare(`users.${key}`, usersBefore[key], usersAfter[key]);
  for (const name of ['groups', 'memberships']) compare(name, before[name], after[name]);
  return changes;
}
