import type { Context } from '../context.js';
import { emptyCounts, type ChangeCounts } from '../core/changeCounts.js';
import type { FeedSettings } from '../core/feedSettings.js';
import { fieldOfColumn, profileColumns, userJsonSql } from '../directory/userColumns.js';
import { countRows } from '../storage/database.js';
import type { Db } from '../storage/dialect.js';
import type { BulkWriter } from '../storage/bulk.js';
import { checkRunOwned } from './runLease.js';

export interface ChangeSetSummary {
  counts: ChangeCounts;
  baseline: { users: number; memberships: number };
}

const PAGE = 1000;

/**
 * Computes a run's change set against the baseline — the directory as it is now — and stores it
 * in `run_changes`. Set operations run in the database; only changed users pass through here, a
 * page at a time, to work out which fields changed.
 */
export async function computeChangeSet(
  ctx: Context,
  db: Db,
  input: { runId: number; feedId: number; mode: 'full' | 'delta'; settings: FeedSettings; unchangedRows: number },
): Promise<ChangeSetSummary> {
  const { runId: R, feedId: F, mode, settings } = input;
  const json = ctx.database.dialect.jsonValue;
  await checkRunOwned();
  await db('run_changes').where({ run_id: R }).delete();
  const insert = (select: string, bindings: unknown[]) =>
    db.raw(`INSERT INTO run_changes (run_id, entity, op, entity_key, group_code, before_values, after_values) ${select}`, bindings as never[]);

  // Users that are new to the directory.
  await insert(
    `SELECT ?, 'user', 'create', s.user_key, NULL, NULL, ${userJsonSql('s', json)}
       FROM staging_users s
      WHERE s.run_id = ? AND s.status = 'ok'
        AND NOT EXISTS (SELECT 1 FROM directory_users d WHERE d.feed_id = ? AND d.user_key = s.user_key)`,
    [R, R, F],
  );
  // Users whose rows carry the delete flag: hard delete, keeping their last values in the log.
  await insert(
    `SELECT ?, 'user', 'delete', d.user_key, NULL, ${userJsonSql('d', json, ["'state'", 'd.state'])}, NULL
       FROM directory_users d JOIN staging_users s ON s.run_id = ? AND s.user_key = d.user_key AND s.status = 'delete'
      WHERE d.feed_id = ?`,
    [R, R, F],
  );
  if (mode === 'full' && settings.onMissing !== 'keep') {
    // The users the files never named were found while they were read (`BaselineMatcher`).
    const absent = `FROM staging_absent a JOIN directory_users d ON d.id = a.user_id
      WHERE a.run_id = ? AND a.kept = 0 AND d.feed_id = ? AND d.state = 'active'`;
    if (settings.onMissing === 'suspend') {
      await insert(`SELECT ?, 'user', 'suspend', d.user_key, NULL, '{"state":"active"}', '{"state":"suspended"}' ${absent}`, [R, R, F]);
    } else {
      await insert(`SELECT ?, 'user', 'delete', d.user_key, NULL, ${userJsonSql('d', json, ["'state'", 'd.state'])}, NULL ${absent}`, [R, R, F]);
    }
  }
  await insertUserUpdates(ctx, db, R, F);

  // Groups: new codes from the groups files or from memberships, and renamed groups.
  await insert(
    `SELECT ?, 'group', 'create', g.code, NULL, NULL, json_object('name', COALESCE(g.name, g.code))
       FROM staging_groups g
      WHERE g.run_id = ? AND NOT EXISTS (SELECT 1 FROM directory_groups dg WHERE dg.feed_id = ? AND dg.code = g.code)`,
    [R, R, F],
  );
  await insert(
    `SELECT ?, 'group', 'create', x.group_code, NULL, NULL, json_object('name', x.group_code)
       FROM (SELECT DISTINCT group_code FROM staging_memberships WHERE run_id = ?) x
      WHERE NOT EXISTS (SELECT 1 FROM directory_groups dg WHERE dg.feed_id = ? AND dg.code = x.group_code)
        AND NOT EXISTS (SELECT 1 FROM staging_groups g WHERE g.run_id = ? AND g.code = x.group_code)`,
    [R, R, F, R],
  );
  await insert(
    `SELECT ?, 'group', 'update', g.code, NULL, json_object('name', dg.name), json_object('name', g.name)
       FROM staging_groups g JOIN directory_groups dg ON dg.feed_id = ? AND dg.code = g.code
      WHERE g.run_id = ? AND g.name IS NOT NULL AND g.name <> dg.name`,
    [R, F, R],
  );

  // Memberships: the run's users' complete sets replace the feed-managed ones. Both sides are
  // indexed by (user key, group code), so each anti-join walks them in the same order.
  await insert(
    `SELECT ?, 'membership', 'add', x.user_key, x.group_code, NULL, NULL
       FROM (SELECT DISTINCT user_key, group_code FROM staging_memberships WHERE run_id = ?) x
      WHERE NOT EXISTS (SELECT 1 FROM directory_memberships dm WHERE dm.feed_id = ? AND dm.user_key = x.user_key AND dm.group_code = x.group_code)`,
    [R, R, F],
  );
  // Driven from the staged users (after the duplicate check, at most one accepted row per key),
  // so the cost follows the records that changed, not the size of the directory.
  await insert(
    `SELECT ?, 'membership', 'remove', dm.user_key, dm.group_code, NULL, NULL
       FROM staging_users s
       ${ctx.database.dialect.leftFirstJoin} directory_memberships dm ON dm.feed_id = ? AND dm.user_key = s.user_key AND dm.managed = 1
      WHERE s.run_id = ? AND s.status = 'ok'
        AND NOT EXISTS (SELECT 1 FROM staging_memberships m WHERE m.run_id = ? AND m.user_key = dm.user_key AND m.group_code = dm.group_code)`,
    [R, F, R, R],
  );
  // Users who are deleted lose their memberships with them.
  await insert(
    `SELECT ?, 'membership', 'remove', dm.user_key, dm.group_code, NULL, NULL
       FROM run_changes c JOIN directory_memberships dm ON dm.feed_id = ? AND dm.user_key = c.entity_key AND dm.managed = 1
      WHERE c.run_id = ? AND c.entity = 'user' AND c.op = 'delete'`,
    [R, F, R],
  );

  const counts = await countChanges(db, R, input.unchangedRows);
  return { counts, baseline: await baselineSize(db, F, counts) };
}

interface UpdateCandidate {
  user_key: string;
  d_state: string;
  s_custom: string | null;
  d_custom: string | null;
  [column: string]: string | null;
}

async function insertUserUpdates(ctx: Context, db: Db, runId: number, feedId: number) {
  const writer = await ctx.database.dialect.openBulkWriter(ctx.database.knex, 'run_changes', ['run_id', 'entity', 'op', 'entity_key', 'group_code', 'before_values', 'after_values']);
  try {
    await writeUserUpdates(db, runId, feedId, writer);
  } finally {
    await writer.close();
  }
}

async function writeUserUpdates(db: Db, runId: number, feedId: number, writer: BulkWriter) {
  const columns = [...profileColumns.flatMap((c) => [`s.${c} as s_${c}`, `d.${c} as d_${c}`]), 's.custom as s_custom', 'd.custom as d_custom'];
  let after = '';
  for (;;) {
    const page = (await db('staging_users as s')
      .join('directory_users as d', function () {
        this.on('d.user_key', '=', 's.user_key').andOn('d.feed_id', '=', db.raw('?', [feedId]));
      })
      .where('s.run_id', runId)
      .andWhere('s.status', 'ok')
      .andWhere((q) => q.whereRaw('s.record_hash <> d.record_hash').orWhereNot('d.state', 'active'))
      .andWhere('s.user_key', '>', after)
      .orderBy('s.user_key')
      .limit(PAGE)
      .select('s.user_key', 'd.state as d_state', ...columns)) as UpdateCandidate[];
    for (const row of page) {
      const before: Record<string, unknown> = {};
      const next: Record<string, unknown> = {};
      for (const column of profileColumns) {
        if ((row[`s_${column}`] ?? null) !== (row[`d_${column}`] ?? null)) {
          before[fieldOfColumn[column]!] = row[`d_${column}`] ?? null;
          next[fieldOfColumn[column]!] = row[`s_${column}`] ?? null;
        }
      }
      diffCustom(JSON.parse(row.d_custom ?? '{}'), JSON.parse(row.s_custom ?? '{}'), before, next);
      const reactivate = row.d_state !== 'active';
      if (reactivate) {
        before.state = row.d_state;
        next.state = 'active';
      }
      await writer.write([runId, 'user', reactivate ? 'reactivate' : 'update', row.user_key, null, JSON.stringify(before), JSON.stringify(next)]);
    }
    if (page.length < PAGE) break;
    after = page[page.length - 1]!.user_key;
  }
}

function diffCustom(before: Record<string, unknown>, after: Record<string, unknown>, outBefore: Record<string, unknown>, outAfter: Record<string, unknown>) {
  for (const name of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (JSON.stringify(before[name] ?? null) !== JSON.stringify(after[name] ?? null)) {
      outBefore[`custom.${name}`] = before[name] ?? null;
      outAfter[`custom.${name}`] = after[name] ?? null;
    }
  }
}

const opCounter: Record<string, (c: ChangeCounts, n: number) => void> = {
  'user:create': (c, n) => (c.users.created = n),
  'user:update': (c, n) => (c.users.updated = n),
  'user:suspend': (c, n) => (c.users.suspended = n),
  'user:reactivate': (c, n) => (c.users.reactivated = n),
  'user:delete': (c, n) => (c.users.deleted = n),
  'group:create': (c, n) => (c.groups.created = n),
  'group:update': (c, n) => (c.groups.updated = n),
  'membership:add': (c, n) => (c.memberships.added = n),
  'membership:remove': (c, n) => (c.memberships.removed = n),
};

async function countChanges(db: Db, runId: number, skippedUnchanged: number): Promise<ChangeCounts> {
  const counts = emptyCounts();
  const rows = (await db('run_changes').where({ run_id: runId }).groupBy('entity', 'op').select('entity', 'op').count({ n: '*' })) as {
    entity: string;
    op: string;
    n: number | string;
  }[];
  for (const row of rows) opCounter[`${row.entity}:${row.op}`]?.(counts, Number(row.n));
  // Every accepted row is new (create), differs or comes back (update, reactivate), or is the
  // same as in the directory: counting the rows is cheaper than joining them again. Records
  // skipped while reading were never staged and are unchanged by definition.
  const accepted = await countRows(db('staging_users').where({ run_id: runId, status: 'ok' }));
  counts.users.unchanged = accepted - counts.users.created - counts.users.updated - counts.users.reactivated + skippedUnchanged;
  return counts;
}

/** The baseline the percentage hold rules divide by; only counted when a rule has something to divide. */
async function baselineSize(db: Db, feedId: number, counts: ChangeCounts) {
  const userChanges = counts.users.suspended + counts.users.deleted + counts.users.updated;
  return {
    users: userChanges > 0 ? await countRows(db('directory_users').where({ feed_id: feedId, state: 'active' })) : 0,
    memberships: counts.memberships.removed > 0 ? await countRows(db('directory_memberships').where({ feed_id: feedId, managed: 1 })) : 0,
  };
}
