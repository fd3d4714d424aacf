import { csvLine } from '../core/csvExport.js';
import { problemMessage } from '../core/problems.js';
import type { Db } from '../storage/dialect.js';
import { allRunChanges } from './runChanges.service.js';
import { runErrors } from './runs.service.js';

/** Every error of a run as CSV: for the admin page's download and the report email. */
export async function runErrorsCsv(db: Db, runId: number): Promise<string> {
  const lines = [csvLine(['level', 'file', 'line', 'column', 'code', 'key', 'message'])];
  for (const e of await runErrors(db, runId)) {
    lines.push(csvLine([e.level, e.file, e.line, e.column, e.code, e.key, problemMessage(e)]));
  }
  return lines.join('');
}

/** A run's whole change set as CSV lines, one per changed field, streamed a page at a time. */
export async function* runChangesCsv(db: Db, runId: number): AsyncGenerator<string> {
  yield csvLine(['entity', 'operation', 'key', 'name', 'email', 'group', 'field', 'before', 'after']);
  for await (const change of allRunChanges(db, runId)) {
    const who = [change.key, change.person?.name || null, change.person?.email ?? null];
    if (change.fields.length === 0) yield csvLine([change.entity, change.op, ...who, change.groupCode, null, null, null]);
    for (const f of change.fields) yield csvLine([change.entity, change.op, ...who, change.groupCode, f.field, f.before, f.after]);
  }
}
