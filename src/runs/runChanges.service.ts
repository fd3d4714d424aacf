import { fieldChanges, type FieldChange } from '../core/fieldChanges.js';
import { countRows } from '../storage/database.js';
import type { Db } from '../storage/dialect.js';

export type ChangeEntity = 'user' | 'group' | 'membership';

export interface RunChange {
  id: number;
  entity: ChangeEntity;
  op: string;
  key: string;
  groupCode: string | null;
  fields: FieldChange[];
}

/* eslint-disable @typescript-eslint/no-explicit-any */
const fromRow = (r: any): RunChange => ({
  id: Number(r.id),
  entity: r.entity,
  op: r.op,
  key: r.entity_key,
  groupCode: r.group_code,
  fields: fieldChanges(r.before_values, r.after_values),
});

export interface ChangeFilter {
  entity?: ChangeEntity;
  op?: string;
}

const filtered = (db: Db, runId: number, filter: ChangeFilter) => {
  const query = db('run_changes').where({ run_id: runId });
  if (filter.entity) query.where({ entity: filter.entity });
  if (filter.op) query.where({ op: filter.op });
  return query;
};

/** One page of a run's change set, in the order it was computed, with the total for paging. */
export async function listRunChanges(db: Db, runId: number, filter: ChangeFilter, page: { limit: number; offset: number }) {
  const total = await countRows(filtered(db, runId, filter));
  const rows = await filtered(db, runId, filter).orderBy('id').limit(page.limit).offset(page.offset);
  return { total, changes: rows.map(fromRow) };
}

/** The whole change set, read a page at a time by id so memory stays flat for any size. */
export async function* allRunChanges(db: Db, runId: number, pageSize = 2000): AsyncGenerator<RunChange> {
  let after = 0;
  for (;;) {
    const rows = await db('run_changes').where({ run_id: runId }).where('id', '>', after).orderBy('id').limit(pageSize);
    for (const row of rows) yield fromRow(row);
    if (rows.length < pageSize) return;
    after = Number(rows[rows.length - 1].id);
  }
}
