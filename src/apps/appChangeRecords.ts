import { userFields, type UserField, type UsersSection } from '../core/control/types.js';
import type { Problem } from '../core/problems.js';
import { mapUser, type UserRecord } from '../core/records/users.js';

/** One change an application reports (README, "Two-way"). Pure: no I/O here. */
export interface AppChange {
  op: 'create' | 'update' | 'delete';
  key: string;
  /** By field name: `email`, `firstName`, …, `custom.<name>`; null or '' clears a field. */
  fields?: Record<string, string | string[] | null>;
  /** Memberships the application manages itself (never the source's). */
  addGroups?: string[];
  removeGroups?: string[];
}

export const MAX_APP_CHANGES = 1000;
const FILE = 'app-changes';

const problem = (index: number, message: string, where = '', code: Problem['code'] = 'value_invalid', key?: string): Problem => ({
  level: 'row',
  code,
  message,
  file: FILE,
  pointer: `/changes/${index}${where}`,
  key,
});

/** The request body as a list of changes, or the problems that make it unreadable. */
export function readAppChanges(body: unknown): { changes: AppChange[]; problems: Problem[] } {
  const list = (body as { changes?: unknown })?.changes;
  if (!Array.isArray(list)) return { changes: [], problems: [{ level: 'set', code: 'json_malformed', message: 'the body must be {"changes": [ … ]}', file: FILE, pointer: '' }] };
  if (!list.length) return { changes: [], problems: [{ level: 'set', code: 'file_empty', message: 'no changes: nothing to apply', file: FILE, pointer: '/changes' }] };
  if (list.length > MAX_APP_CHANGES) return { changes: [], problems: [{ level: 'set', code: 'too_many_errors', message: `at most ${MAX_APP_CHANGES} changes per request`, file: FILE, pointer: '/changes' }] };
  const problems: Problem[] = [];
  const changes: AppChange[] = [];
  const seen = new Set<string>();
  list.forEach((raw, i) => {
    const c = raw as Partial<AppChange>;
    if (!c || typeof c !== 'object' || !['create', 'update', 'delete'].includes(String(c.op))) return problems.push(problem(i, 'op must be create, update or delete', '/op'));
    if (typeof c.key !== 'string' || !c.key) return problems.push(problem(i, 'key is required', '/key', 'required_missing'));
    if (seen.has(c.key)) return problems.push(problem(i, `user ${c.key} is changed twice in one request`, '/key', 'key_duplicate', c.key));
    seen.add(c.key);
    for (const list of ['addGroups', 'removeGroups'] as const) {
      if (c[list] !== undefined && !(Array.isArray(c[list]) && c[list]!.every((g) => typeof g === 'string' && g))) return problems.push(problem(i, `${list} must be a list of group codes`, `/${list}`));
    }
    if (c.fields !== undefined && (typeof c.fields !== 'object' || c.fields === null || Array.isArray(c.fields))) return problems.push(problem(i, 'fields must be an object', '/fields'));
    changes.push(c as AppChange);
  });
  return { changes, problems };
}

const knownField = (name: string) => Object.hasOwn(userFields, name) || /^custom\.[^.]+$/.test(name);

/**
 * The user a change leaves, checked exactly as a source row is (`mapUser`): `current` is the
 * user's fields by name as the directory holds them, null for a new user. A field the source
 * locks cannot be set by the application, unless the feed lists it in `appOwnedFields`.
 */
export function appChangeRecord(
  index: number,
  change: AppChange,
  keyKind: UsersSection['key'],
  current: { fields: Record<string, unknown>; lockedFields: string[] } | null,
  appOwned: string[],
): { record: UserRecord | null; problems: Problem[] } {
  const problems: Problem[] = [];
  const changed = change.fields ?? {};
  for (const name of Object.keys(changed)) {
    if (!knownField(name) || name === 'groups') problems.push(problem(index, `${name} is not a user field`, `/fields/${name}`));
    else if (name === keyKind) problems.push(problem(index, `${name} is the user's key; it cannot change`, `/fields/${name}`));
    else if (current?.lockedFields.some((l) => l === name || (l === 'custom' && name.startsWith('custom.'))) && !appOwned.includes(name)) {
      problems.push(problem(index, `${name} is locked: the source owns it`, `/fields/${name}`, 'value_invalid', change.key));
    }
  }
  if (problems.length) return { record: null, problems };
  const values: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries({ ...(current?.fields ?? {}), ...changed, [keyKind]: change.key })) {
    if (value !== null && value !== undefined) values[name] = Array.isArray(value) ? value.map(String) : String(value);
  }
  // Every field maps to a column of its own name: the checks, limits and messages are the source's.
  const section: UsersSection = { key: keyKind, fields: Object.fromEntries(Object.keys(values).map((name) => [name, { column: name }])), groupRules: [] };
  const columns = Object.keys(values);
  const mapped = mapUser(section, { line: index + 1, values }, FILE, (column) => (column ? columns.indexOf(column) + 1 : undefined));
  return {
    record: mapped.record,
    // Located by the change's place in the request; the message names the field.
    problems: mapped.problems.map(({ line: _line, column: _column, ...p }) => ({ ...p, pointer: `/changes/${index}` })),
  };
}

export const userFieldNames = Object.keys(userFields) as UserField[];
