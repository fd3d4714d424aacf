import type { Knex } from 'knex';
import type { Context } from '../context.js';
import type { ChangeCounts } from '../core/changeCounts.js';
import type { ControlFile } from '../core/control/types.js';
import { profileColumns } from '../directory/userColumns.js';
import { toDbTime } from '../storage/dialect.js';
import { faultPoint } from './faults.js';
import { writeChangeLog } from './changeLogWrite.js';
import { currentProgress } from './runLease.js';

export class BaselineMovedError extends Error {
  constructor() {
    super('the directory changed since this change set was computed');
  }
}

/**
 * Writes a run's stored change set to the directory in one transaction, together with the
 * change log and the run's move to `applied`. Either all of it is committed or none of it.
 */
export async function applyChangeSet(
  ctx: Context,
  trx: Knex.Transaction,
  input: { runId: number; feedId: number; baselineVersion: number; forceUpdate: boolean; control: ControlFile; counts: ChangeCounts; unchangedRows: number },
): Promise<void> {
  const { runId: R, feedId: F, counts } = input;
  // Progress after each statement, counted from the change set (what each statement's result
  // reports differs between databases, and the pass over existing users touches unchanged ones).
  const progress = currentProgress();
  const done = (n: number) => progress?.advance(n);
  await faultPoint('apply:start');
  // A statement with nothing to do still reads its tables: skip what the change set says is empty.
  const any = (n: number) => n > 0;
  const { dialect } = ctx.database;
  const now = toDbTime();
  const feed = await dialect.forUpdate(trx('feeds').where({ id: F }).first('directory_version', 'last_full_run_id'));
  if (Number(feed.directory_version) !== input.baselineVersion) throw new BaselineMovedError();
  const full = input.control.mode === 'full';
  // See `last_seen_in_run` in the README: 0 is "in the feed's latest full run". A full run
  // becomes that run, so the users it names get 0; a delta run names its users' run.
  const seenHere = full ? 0 : R;
  const lockedFields = JSON.stringify(Object.keys(input.control.users?.fields ?? {}).sort());
  const change = (entity: string, ops: string[]) =>
    `c.run_id = ${Number(R)} AND c.entity = '${entity}' AND c.op IN (${ops.map((o) => `'${o}'`).join(', ')})`;

  if (any(counts.groups.created)) await trx.raw(
    `INSERT INTO directory_groups (feed_id, code, name, created_at, updated_at, created_in_run)
     SELECT ?, c.entity_key, COALESCE((SELECT MAX(g.name) FROM staging_groups g WHERE g.run_id = c.run_id AND g.code = c.entity_key), c.entity_key), ?, ?, ?
       FROM run_changes c WHERE ${change('group', ['create'])}`,
    [F, now, now, R],
  );
  done(counts.groups.created);
  if (any(counts.groups.updated)) await dialect.updateFrom(trx, {
    target: 'directory_groups',
    sources: ['run_changes c', 'staging_groups g'],
    set: { name: 'g.name', updated_at: '?' },
    where: [change('group', ['update']), 'g.run_id = c.run_id', 'g.code = c.entity_key', 't.feed_id = ?', 't.code = c.entity_key'],
    bindings: [now, F],
  });
  done(counts.groups.updated);

  const columns = profileColumns.join(', ');
  if (any(counts.users.created)) await trx.raw(
    `INSERT INTO directory_users (feed_id, user_key, ${columns}, custom, state, locked_fields, source_record, record_hash, row_fingerprint,
                                  membership_digest, created_at, updated_at, created_in_run, last_seen_in_run)
     SELECT ?, s.user_key, ${profileColumns.map((c) => `s.${c}`).join(', ')}, s.custom, 'active', ?, s.source_record, s.record_hash, s.row_fingerprint,
            s.membership_digest, ?, ?, ?, ?
       FROM run_changes c JOIN staging_users s ON s.run_id = c.run_id AND s.user_key = c.entity_key AND s.status = 'ok'
      WHERE ${change('user', ['create'])}`,
    [F, lockedFields, now, now, R, seenHere],
  );
  done(counts.users.created);
  await faultPoint('apply:after-user-creates');

  // Before anyone is marked as seen here: the users a full run does not name were last seen
  // in the feed's previous full run (0 said so), or keep the run they have.
  if (full && feed.last_full_run_id !== null) await dialect.updateFrom(trx, {
    target: 'directory_users',
    sources: ['staging_absent a'],
    set: { last_seen_in_run: '?' },
    where: ['a.run_id = ?', 't.id = a.user_id', 't.last_seen_in_run = 0'],
    bindings: [Number(feed.last_full_run_id), R],
  });

  // One pass over the staged users that already exist: the fields of those that differ or come
  // back, and for every one of them the raw record, the locked fields, the fingerprint, the
  // memberships digest (NULL when the run computed none: its memberships are then unknown) and
  // last_seen_in_run. A staged user whose record hash is equal gets the values it already has,
  // so only its bookkeeping changes; updated_at moves only for a real change (or forceUpdate:
  // every record is written, as the mapping's meaning may have changed).
  // Probed once per staged user: by its key. With two operations to match, MySQL may take the
  // (run, entity, op) index instead and read every update of the run for each user.
  const changed = `EXISTS (SELECT 1 FROM ${dialect.withIndex('run_changes c', 'run_changes_run_id_entity_entity_key_index')}
    WHERE ${change('user', ['update', 'reactivate'])} AND c.entity_key = s.user_key)`;
  const stagedExisting = counts.users.updated + counts.users.reactivated + counts.users.unchanged - input.unchangedRows;
  if (any(stagedExisting)) await dialect.updateFrom(trx, {
    target: 'directory_users',
    sources: ['staging_users s'],
    set: {
      ...Object.fromEntries([...profileColumns, 'custom', 'record_hash', 'source_record', 'row_fingerprint', 'membership_digest'].map((c) => [c, `s.${c}`])),
      state: "'active'",
      suspended_at: 'NULL',
      updated_at: input.forceUpdate ? '?' : `CASE WHEN ${changed} THEN ? ELSE t.updated_at END`,
      last_seen_in_run: '?',
      locked_fields: '?',
    },
    where: ['s.run_id = ?', "s.status = 'ok'", 't.feed_id = ?', 't.user_key = s.user_key', `t.created_in_run <> ${Number(R)}`],
    bindings: [now, seenHere, lockedFields, R, F],
  });
  // A rejected record still names its user, who was in this run (see `stageRejected`).
  if (full) await dialect.updateFrom(trx, {
    target: 'directory_users',
    sources: ['staging_users s'],
    set: { last_seen_in_run: '0' },
    where: ['s.run_id = ?', "s.status = 'error'", 't.feed_id = ?', 't.user_key = s.user_key', 't.last_seen_in_run <> 0'],
    bindings: [R, F],
  });
  done(counts.users.updated + counts.users.reactivated);
  // Removals join from the run's changes into the feed's rows by their unique key; an
  // `IN (SELECT …)` is a scan of the whole table with a subquery per row on MySQL.
  if (any(counts.users.suspended)) await dialect.updateFrom(trx, {
    target: 'directory_users',
    sources: ['run_changes c'],
    set: { state: "'suspended'", suspended_at: '?', updated_at: '?' },
    where: [change('user', ['suspend']), 't.feed_id = ?', 't.user_key = c.entity_key'],
    bindings: [now, now, F],
  });
  done(counts.users.suspended);
  await faultPoint('apply:after-user-updates');

  if (any(counts.memberships.removed)) await dialect.deleteFrom(trx, {
    target: 'directory_memberships',
    sources: ['run_changes c'],
    where: [change('membership', ['remove']), 't.feed_id = ?', 't.user_key = c.entity_key', 't.group_code = c.group_code'],
    bindings: [F],
  });
  done(counts.memberships.removed);
  if (any(counts.users.deleted)) await dialect.deleteFrom(trx, {
    target: 'directory_users',
    sources: ['run_changes c'],
    where: [change('user', ['delete']), 't.feed_id = ?', 't.user_key = c.entity_key'],
    bindings: [F],
  });
  done(counts.users.deleted);
  if (any(counts.memberships.added)) await trx.raw(
    `INSERT INTO directory_memberships (feed_id, user_id, group_id, user_key, group_code, managed, created_at, created_in_run)
     SELECT ?, u.id, g.id, u.user_key, g.code, 1, ?, ?
       FROM run_changes c
       JOIN directory_users u ON u.feed_id = ? AND u.user_key = c.entity_key
       JOIN directory_groups g ON g.feed_id = ? AND g.code = c.group_code
      WHERE ${change('membership', ['add'])}`,
    [F, now, R, F, F],
  );
  done(counts.memberships.added);

  progress?.step('writing the change log');
  await faultPoint('apply:before-change-log');
  await writeChangeLog(ctx, trx, R, F, now);
  await faultPoint('apply:after-change-log');
  await trx('feeds').where({ id: F }).update({ directory_version: input.baselineVersion + 1, ...(full && { last_full_run_id: R }) });
}
