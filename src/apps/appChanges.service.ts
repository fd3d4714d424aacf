import type { Knex } from 'knex';
import type { Context } from '../context.js';
import { emptyCounts, type ChangeCounts } from '../core/changeCounts.js';
import type { UsersSection } from '../core/control/types.js';
import type { Problem } from '../core/problems.js';
import { normaliseKey, type UserRecord } from '../core/records/users.js';
import { getDirectoryUser } from '../directory/directory.service.js';
import { profileColumns, fieldOfColumn } from '../directory/userColumns.js';
import type { Feed } from '../feeds/feeds.service.js';
import { writeChangeLog } from '../pipeline/changeLogWrite.js';
import { addRunEvent, createRun, getRun, transition, type Run } from '../runs/runs.service.js';
import { toDbTime } from '../storage/dialect.js';
import { appChangeRecord, readAppChanges, type AppChange } from './appChangeRecords.js';
import { recordHash } from './appOwned.js';

export interface AppChangesResult {
  run: Run | null;
  problems: Problem[];
}

type Planned = { change: AppChange; record: UserRecord | null; current: Awaited<ReturnType<typeof getDirectoryUser>> | null };

const keyKindOf = (feed: Feed): UsersSection['key'] => {
  try {
    return (JSON.parse(feed.controlFile ?? '{}') as { users?: { key?: UsersSection['key'] } }).users?.key === 'email' ? 'email' : 'username';
  } catch {
    return 'username';
  }
};

/**
 * An application's own changes, checked like source rows and applied at once as one `app` run
 * with its own change-log entries — all of them or, when any is refused, none.
 */
export async function applyAppChanges(ctx: Context, feed: Feed, body: unknown, actor: string): Promise<AppChangesResult> {
  const db = ctx.database.knex;
  const { changes, problems } = readAppChanges(body);
  if (problems.length) return { run: null, problems };
  const keyKind = keyKindOf(feed);
  const planned: Planned[] = [];
  for (const [i, change] of changes.entries()) {
    // The directory's key as a source row's would be: an address in any letter case is one user.
    change.key = normaliseKey(keyKind, change.key);
    const current = await getDirectoryUser(db, feed.id, change.key).catch(() => null);
    const at = `/changes/${i}`;
    const found = problems.length;
    if (change.op === 'create' && current) problems.push({ level: 'row', code: 'key_duplicate', message: `user ${change.key} already exists`, file: 'app-changes', pointer: at, key: change.key });
    if (change.op !== 'create' && !current) problems.push({ level: 'row', code: 'membership_unknown_user', message: `user ${change.key} does not exist`, file: 'app-changes', pointer: at, key: change.key });
    if (problems.length > found) continue;
    let record: UserRecord | null = null;
    if (change.op !== 'delete') {
      const fields = current ? Object.fromEntries(current.fields.map((f) => [f.name, f.value])) : {};
      const checked = appChangeRecord(i, change, keyKind, current && { fields, lockedFields: current.lockedFields }, feed.settings.appOwnedFields);
      problems.push(...checked.problems);
      record = checked.record;
    }
    const managedBySource = current ? await db('directory_memberships').where({ feed_id: feed.id, user_key: change.key, managed: true }).pluck('group_code') : [];
    for (const code of change.removeGroups ?? []) {
      if (managedBySource.includes(code)) problems.push({ level: 'row', code: 'value_invalid', message: `the membership of ${change.key} in ${code} is the source's; the application may remove only its own`, file: 'app-changes', pointer: `${at}/removeGroups`, key: change.key });
    }
    planned.push({ change, record, current });
  }
  if (problems.length) return { run: null, problems };

  const runId = await db.transaction(async (trx) => {
    // The feed's row first, as an apply does: a source run computed against the directory as it
    // was finds directory_version moved and computes its change set again.
    const version = await ctx.database.dialect.forUpdate(trx('feeds').where({ id: feed.id }).first('directory_version'));
    const run = await createRun(trx, { feedId: feed.id, channel: 'app', actor });
    const now = toDbTime();
    const counts = emptyCounts();
    for (const plan of planned) await applyOne(trx, feed.id, run.id, plan, counts, now);
    await writeChangeLog(ctx, trx, run.id, feed.id, now);
    await trx('feeds').where({ id: feed.id }).update({ directory_version: Number(version.directory_version) + 1 });
    // Not mailed: the application made these changes itself and has its answer (and no invitations).
    await trx('runs').where({ id: run.id }).update({ mode: 'delta', counts: JSON.stringify(counts), row_count: planned.length, reported_state: 'applied' });
    await addRunEvent(trx, run.id, `${planned.length} change${planned.length === 1 ? '' : 's'} reported by ${actor}`);
    await transition(trx, run.id, ['receiving'], 'applied', { message: 'applied at once (app changes)', actor });
    return run.id;
  });
  return { run: await getRun(db, runId), problems: [] };
}

const fieldsOf = (record: UserRecord) => ({
  ...Object.fromEntries(profileColumns.map((c) => [fieldOfColumn[c]!, record.profile[c as keyof UserRecord['profile']] ?? null])),
  custom: record.custom,
});

async function applyOne(trx: Knex.Transaction, feedId: number, runId: number, { change, record, current }: Planned, counts: ChangeCounts, now: string) {
  const log = (entity: string, op: string, before: unknown, after: unknown, groupCode: string | null = null) =>
    trx('run_changes').insert({ run_id: runId, entity, op, entity_key: change.key, group_code: groupCode, before_values: before === null ? null : JSON.stringify(before), after_values: after === null ? null : JSON.stringify(after) });
  if (change.op === 'delete') {
    const row = await trx('directory_users').where({ feed_id: feedId, user_key: change.key }).first('id');
    await trx('directory_memberships').where({ user_id: row.id }).delete();
    await trx('directory_users').where({ id: row.id }).delete();
    const before = { ...Object.fromEntries(current!.fields.map((f) => [f.name, f.value])), state: current!.state };
    await log('user', 'delete', before, null);
    counts.users.deleted++;
    return;
  }
  // Hashed as the source's next run will hash it, so that a record it sends unchanged is unchanged.
  // The row fingerprint is forgotten: the source's next record must be compared with these values,
  // not skipped because it is the record the source sent last time.
  const hash = recordHash(record!.profile, record!.custom, current?.mappedFields ?? []);
  const values = {
    ...Object.fromEntries(profileColumns.map((c) => [c, record!.profile[c as keyof UserRecord['profile']] ?? null])),
    custom: JSON.stringify(record!.custom),
    record_hash: hash,
    row_fingerprint: null,
    updated_at: now,
  };
  if (change.op === 'create') {
    await trx('directory_users').insert({ feed_id: feedId, user_key: record!.key, ...values, state: 'active', locked_fields: '[]', source_record: null, created_at: now, created_in_run: runId, last_seen_in_run: runId });
    await log('user', 'create', null, fieldsOf(record!));
    counts.users.created++;
  } else {
    const before: Record<string, unknown> = {};
    const after: Record<string, unknown> = {};
    const old = Object.fromEntries(current!.fields.filter((f) => !f.name.startsWith('custom.')).map((f) => [f.name, f.value]));
    for (const column of profileColumns) {
      const field = fieldOfColumn[column]!;
      const next = record!.profile[column as keyof UserRecord['profile']] ?? null;
      if ((old[field] ?? null) !== next) [before[field], after[field]] = [old[field] ?? null, next];
    }
    const oldCustom = Object.fromEntries(current!.fields.filter((f) => f.name.startsWith('custom.')).map((f) => [f.name.slice(7), f.value]));
    if (JSON.stringify(oldCustom) !== JSON.stringify(record!.custom)) [before.custom, after.custom] = [oldCustom, record!.custom];
    if (Object.keys(after).length) {
      await trx('directory_users').where({ feed_id: feedId, user_key: change.key }).update(values);
      await log('user', 'update', before, after);
      counts.users.updated++;
    } else counts.users.unchanged++;
  }
  const user = await trx('directory_users').where({ feed_id: feedId, user_key: record!.key }).first('id');
  let membershipsChanged = false;
  for (const code of change.addGroups ?? []) {
    let group = await trx('directory_groups').where({ feed_id: feedId, code }).first('id');
    if (!group) {
      const [id] = await trx('directory_groups').insert({ feed_id: feedId, code, name: code, created_at: now, updated_at: now, created_in_run: runId });
      await trx('run_changes').insert({ run_id: runId, entity: 'group', op: 'create', entity_key: code, group_code: null, before_values: null, after_values: JSON.stringify({ name: code }) });
      counts.groups.created++;
      group = { id };
    }
    if (await trx('directory_memberships').where({ user_id: user.id, group_id: group.id }).first('id')) continue;
    // managed = 0: the application's own membership, which source runs leave alone.
    await trx('directory_memberships').insert({ feed_id: feedId, user_id: user.id, group_id: group.id, user_key: record!.key, group_code: code, managed: false, created_at: now, created_in_run: runId });
    await log('membership', 'add', null, null, code);
    counts.memberships.added++;
    membershipsChanged = true;
  }
  for (const code of change.removeGroups ?? []) {
    const removed = await trx('directory_memberships').where({ user_id: user.id, group_code: code, managed: false }).delete();
    if (removed) {
      await log('membership', 'remove', null, null, code);
      counts.memberships.removed++;
      membershipsChanged = true;
    }
  }
  // The user's memberships are no longer those the source's memberships files gave: its next
  // full run must stage the user rather than skip them as unchanged.
  if (membershipsChanged) await trx('directory_users').where({ id: user.id }).update({ membership_digest: null });
}
