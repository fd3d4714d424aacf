import { userFields, type UserField } from '../core/control/types.js';

/** Directory column ↔ public field name (`first_name` ↔ `firstName`). */
export const profileColumns = Object.values(userFields).map((f) => f.column);
export const fieldOfColumn = Object.fromEntries(Object.entries(userFields).map(([field, f]) => [f.column, field])) as Record<string, UserField>;

/** `json_object('firstName', a.first_name, …, 'custom', <json>)` for a table alias. */
export function userJsonSql(alias: string, jsonValue: (sql: string) => string, extra: string[] = []): string {
  const pairs = profileColumns.map((c) => `'${fieldOfColumn[c]}', ${alias}.${c}`);
  pairs.push(`'custom', ${jsonValue(`COALESCE(${alias}.custom, '{}')`)}`);
  return `json_object(${[...pairs, ...extra].join(', ')})`;
}
