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
  /** The user's name and e-mail: from the directory, or from the record for a user not there yet. */
  person: { name: string; email: string | null } | null;
}

/* eslint-disable @typescript-eslint/no-explicit-any */
const fromRow = (r: any): RunChange => ({
  id: Number(r.id),
  entity: r.entity,
  op: r.op,
  key: r.entity_key,
  groupCode: r.group_code,
  fields: fieldChanges(r.before_values, r.after_values),
  person: personOf(r),
});

function personOf(r: any): RunChange['person'] {
  if (r.entity === 'group') return null;
  let first = r.du_first_name as string | null;
  let last = r.du_last_name as string | null;
  let email = r.du_email as string | null;
  if (r.du_id === null || r.du_id === undefined) {
    // Not in the directory (yet): a created user's record says who it will be.
    const after = r.entity === 'user' && r.after_values ? (JSON.parse(r.after_values) as Record<string, unknown>) : {};
    first = typeof after.firstName === 'string' ? after.firstName : null;
    last = typeof after.lastName === 'string' ? after.lastName : null;
    email = typeof after.email === 'string' ? after.email : null;
  }
  const name = [first, last].filter(Boolean).join(' ');
  return name || email ? { name, email } : null;
}

export interface ChangeFilter {
  entity?: ChangeEntity;
  op?: string;
  /** Part of a key, name or e-mail address, in any letter case. */
  search?: string;
}

/**
 * The run's changes with the directory's name and e-mail of each user (and of a membership's
 * user), joined by (feed_id, user_key): the directory's unique index, one lookup per change.
 */
const withPeople = (db: Db, runId: number) =>
  db('run_changes as c')
    .join('runs as r', 'r.id', 'c.run_id')
    .leftJoin('directory_users as du', function () {
      this.on('du.feed_id', 'r.feed_id').andOn('du.user_key', 'c.entity_key').andOn('c.entity', '<>', db.raw('?', ['group']));
    })
    .where('c.run_id', runId);

const filtered = (db: Db, runId: number, filter: ChangeFilter) => {
  const query = withPeople(db, runId);
  if (filter.entity) query.where('c.entity', filter.entity);
  if (filter.op) query.where('c.op', filter.op);
  const search = filter.search?.trim().toLowerCase();
  if (search) {
    const like = `%${search.replace(/[!%_]/g, (c) => `!${c}`)}%`;
    query.where((q) => {
      q.whereRaw(`lower(c.entity_key) like ? escape '!'`, [like])
        .orWhereRaw(`lower(du.email) like ? escape '!'`, [like])
        .orWhereRaw(`lower(du.first_name) like ? escape '!'`, [like])
        .orWhereRaw(`lower(du.last_name) like ? escape '!'`, [like])
        // A user the run creates is not in the directory: its record is searched instead.
        .orWhereRaw(`(du.id is null and lower(c.after_values) like ? escape '!')`, [like]);
    });
  }
  return query;
};

const columns = ['c.*', 'du.id as du_id', 'du.first_name as du_first_name', 'du.last_name as du_last_name', 'du.email as du_email'];

/**
 * One page of a run's change set, in the order it was computed, with the total for paging;
 * `knownTotal` (the run's stored counts) spares counting millions of rows.
 */
export async function listRunChanges(db: Db, runId: number, filter: ChangeFilter, page: { limit: number; offset: number }, knownTotal?: number) {
  const total = knownTotal ?? (await countRows(filtered(db, runId, filter)));
  const rows = await filtered(db, runId, filter).select(columns).orderBy('c.id').limit(page.limit).offset(page.offset);
  return { total, changes: rows.map(fromRow) };
}

/** The whole change set, read a page at a time by id so memory stays flat for any size. */
export async function* allRunChanges(db: Db, runId: number, pageSize = 2000): AsyncGenerator<RunChange> {
  let after = 0;
  for (;;) {
    const rows = await withPeople(db, runId).select(columns).where('c.id', '>', after).orderBy('c.id').limit(pageSize);
    for (const row of rows) yield fromRow(row);
    if (rows.length < pageSize) return;
    after = Number(rows[rows.length - 1].id);
  }
}
