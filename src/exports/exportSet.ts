import { userFields, type UsersSection } from '../core/control/types.js';

/** One user of an export: the fields as the directory holds them, or a deletion. Pure. */
export interface ExportedUser {
  key: string;
  deleted: boolean;
  fields: Record<string, unknown>;
  groups: string[];
}

const STATUS = 'status';

/** RFC 4180, nothing else: the file is read by programs, not opened in a spreadsheet. */
const cell = (value: unknown) => {
  const text = value === null || value === undefined ? '' : Array.isArray(value) ? value.join(';') : String(value);
  return /[",\r\n]/.test(text) || /^\s|\s$/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
};

/**
 * An upload set in Sluice's own format carrying an application's changes: one users file and
 * a `delta` control file whose columns are the field names, with a status column flagging
 * deletions. Another Sluice, or the source's import, reads it like any upload.
 */
export function buildExportSet(users: ExportedUser[], keyKind: UsersSection['key'], format: 'csv' | 'json', feed: string): Record<string, string> {
  const fieldNames = new Set<string>([keyKind, 'email', 'firstName', 'lastName']);
  for (const u of users) for (const [name, value] of Object.entries(u.fields)) if (value !== null && value !== undefined && name !== 'groups') fieldNames.add(name);
  // A stable order: the profile fields as Sluice lists them, then the custom ones by name.
  const order = Object.keys(userFields);
  const rank = (name: string) => (order.includes(name) ? order.indexOf(name) : order.length);
  const columns = [...fieldNames].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  const hasGroups = users.some((u) => u.groups.length);
  const header = [...columns, ...(hasGroups ? ['groups'] : []), STATUS];
  const rows = users.map((u) => {
    const row: Record<string, unknown> = Object.fromEntries(columns.map((c) => [c, c === keyKind ? u.key : (u.fields[c] ?? null)]));
    if (hasGroups) row.groups = u.groups.join(';');
    row[STATUS] = u.deleted ? 'deleted' : 'active';
    return row;
  });
  const dataName = `users.${format}`;
  const data =
    format === 'csv'
      ? [header, ...rows.map((r) => header.map((c) => r[c]))].map((line) => line.map(cell).join(',')).join('\r\n') + '\r\n'
      : `${JSON.stringify(rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v === null ? '' : Array.isArray(v) ? v.join(';') : String(v)]))), null, 1)}\n`;
  const control = {
    version: 1,
    feed,
    mode: 'delta',
    files: { [dataName]: { type: 'users', format, rows: rows.length } },
    users: {
      key: keyKind,
      fields: { ...Object.fromEntries(columns.map((c) => [c, c])), ...(hasGroups ? { groups: { column: 'groups', split: ';' } } : {}) },
      delete: { column: STATUS, values: ['deleted'] },
    },
  };
  return { [dataName]: data, 'control.json': `${JSON.stringify(control, null, 2)}\n` };
}
