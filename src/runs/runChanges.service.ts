import type { Knex } from 'knex';
import { fieldChangesBetween, type FieldChange } from '../core/fieldChanges.js';
import { countRows } from '../storage/database.js';
import type { Db, Dialect } from '../storage/dialect.js';

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
const fromRow = (r: any): RunChange => {
  // Parsed once: the fields and a created user's name both come from it.
  const after = r.after_values ? (JSON.parse(r.after_values) as Record<string, unknown>) : null;
  return {
    id: Number(r.id),
    entity: r.entity,
    op: r.op,
    key: r.entity_key,
    groupCode: r.group_code,
    fields: fieldChangesBetween(r.before_values ? JSON.parse(r.before_values) : null, after),
    person: personOf(r, after),
  };
};

function personOf(r: any, after: Record<string, unknown> | null): RunChange['person'] {
  if (r.entity === 'group') return null;
  let first = r.du_first_name as string | null;
  let last = r.du_last_name as string | null;
  let email = r.du_email as string | null;
  if (r.du_id === null || r.du_id === undefined) {
    // Not in the directory (yet): a created user's record says who it will be.
    const record = r.entity === 'user' && after ? after : {};
    first = typeof record.firstName === 'string' ? record.firstName : null;
    last = typeof record.lastName === 'string' ? record.lastName : null;
    email = typeof record.email === 'string' ? record.email : null;
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
const withPeople = (db: Db, runId: number, changes: string | Knex.Raw = 'run_changes as c') =>
  db
    .from(changes)
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

/**
 * The whole change set, read a page at a time by id so memory stays flat for any size, within
 * the run's first and last id so neither end scans other runs' changes. The next page is asked
 * for while the caller works through this one.
 */
export async function* allRunChanges(db: Db, dialect: Dialect, runId: number, pageSize = 2000): AsyncGenerator<RunChange> {
  const bounds = await db('run_changes').where('run_id', runId).min('id as first').max('id as last').first();
  if (bounds?.first === null || bounds?.first === undefined) return;
  const last = Number(bounds.last);
  const page = (after: number): Promise<any[]> => {
    const rows = withPeople(db, runId, db.raw(dialect.inIdOrder('run_changes as c'))).select(columns).where('c.id', '>', after).where('c.id', '<=', last).orderBy('c.id').limit(pageSize).then((r) => r);
    // Handled when awaited; until then (or if the download stops first) a failure is no crash.
    rows.catch(() => {});
    return rows;
  };
  let pending = page(Number(bounds.first) - 1);
  for (;;) {
    const rows = await pending;
    const more = rows.length === pageSize && Number(rows[rows.length - 1].id) < last;
    if (more) pending = page(Number(rows[rows.length - 1].id));
    for (const row of rows) yield fromRow(row);
    if (!more) return;
  }
}
