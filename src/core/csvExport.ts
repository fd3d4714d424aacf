import type { FieldChange } from './fieldChanges.js';
import { problemMessage, type Problem } from './problems.js';

/**
 * The text of one cell of a CSV download meant for spreadsheets. Text starting with `=`, `+`,
 * `-`, `@`, a tab or a carriage return is prefixed with `'`: a spreadsheet would otherwise run it
 * as a formula (CSV injection). Numbers are numbers and stay as they are; other values are JSON.
 * Quoting is the CSV writer's job, not this one's.
 */
export function spreadsheetCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
}

/** What the change-set download says of one change: structurally a `RunChange`. */
export interface ChangeSetEntry {
  entity: string;
  op: string;
  key: string;
  groupCode: string | null;
  person: { name: string; email: string | null } | null;
  fields: readonly FieldChange[];
}

export const changeSetColumns = ['entity', 'operation', 'key', 'name', 'email', 'group', 'field', 'before', 'after'];

/** The change-set rows of one change: one per changed field, or one for a change without fields. */
export function changeSetRows(change: ChangeSetEntry): unknown[][] {
  const head = [change.entity, change.op, change.key, change.person?.name || null, change.person?.email ?? null, change.groupCode];
  if (change.fields.length === 0) return [[...head, null, null, null]];
  return change.fields.map((f) => [...head, f.field, f.before, f.after]);
}

export const errorColumns = ['level', 'file', 'line', 'column', 'code', 'key', 'message'];

export const errorRow = (e: Problem): unknown[] => [e.level, e.file, e.line, e.column, e.code, e.key, problemMessage(e)];
