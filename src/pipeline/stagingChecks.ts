import type { Context } from '../context.js';
import { rowProblem, type Problem } from '../core/problems.js';
import { recordProblems } from '../runs/runs.service.js';

const CHUNK = 500;

/**
 * The row checks that need the whole set: a key in two rows (both rejected, as we cannot tell
 * which is right), a group code listed twice, a membership naming a user the set does not have.
 * Returns the number of rows newly rejected.
 */
export async function checkStagedSet(ctx: Context, runId: number, membershipFiles: string[]): Promise<number> {
  const db = ctx.database.knex;
  let rejected = 0;

  const duplicateKeys = (await db('staging_users')
    .where({ run_id: runId })
    .groupBy('user_key')
    .havingRaw('COUNT(*) > 1')
    .pluck('user_key')) as string[];
  for (let i = 0; i < duplicateKeys.length; i += CHUNK) {
    const keys = duplicateKeys.slice(i, i + CHUNK);
    const rows = (await db('staging_users')
      .where({ run_id: runId })
      .whereIn('user_key', keys)
      .orderBy(['user_key', 'file', 'line'])
      .select('user_key', 'file', 'line', 'status')) as { user_key: string; file: string; line: number; status: string }[];
    const problems: Problem[] = [];
    for (const row of rows) {
      if (row.status === 'error') continue;
      const others = rows.filter((o) => o.user_key === row.user_key && (o.file !== row.file || o.line !== row.line));
      problems.push(
        rowProblem('key_duplicate', `user "${row.user_key}" also appears at ${others.slice(0, 5).map((o) => `${o.file}:${o.line}`).join(', ')}; neither row is applied`, {
          file: row.file,
          line: Number(row.line),
          key: row.user_key,
        }),
      );
    }
    rejected += problems.length;
    await recordProblems(db, ctx.database.dialect, runId, problems);
    await db('staging_users').where({ run_id: runId }).whereIn('user_key', keys).update({ status: 'error' });
  }
  // Memberships of rejected and deleted users are left as they are.
  if (await db('staging_users').where({ run_id: runId }).whereIn('status', ['error', 'delete']).first('user_key')) {
    await db('staging_memberships')
      .where({ run_id: runId })
      .whereIn('user_key', db('staging_users').where({ run_id: runId }).whereIn('status', ['error', 'delete']).select('user_key'))
      .delete();
  }

  const duplicateGroups = (await db('staging_groups').where({ run_id: runId }).groupBy('code').havingRaw('COUNT(*) > 1').pluck('code')) as string[];
  for (let i = 0; i < duplicateGroups.length; i += CHUNK) {
    const codes = duplicateGroups.slice(i, i + CHUNK);
    const rows = (await db('staging_groups').where({ run_id: runId }).whereIn('code', codes).orderBy(['code', 'line'])) as { code: string; file: string; line: number }[];
    const problems = rows.map((row) =>
      rowProblem('group_duplicate', `group "${row.code}" is listed more than once in the groups files; none of its rows is applied`, { file: row.file, line: Number(row.line), key: row.code }),
    );
    rejected += problems.length;
    await recordProblems(db, ctx.database.dialect, runId, problems);
    await db('staging_groups').where({ run_id: runId }).whereIn('code', codes).delete();
  }

  // Memberships taken from a users file always name their user; only memberships files can be wrong.
  if (membershipFiles.length === 0) return rejected;
  const unknown = db('staging_memberships as m')
    .where('m.run_id', runId)
    .whereIn('m.file', membershipFiles)
    .whereNotExists(db('staging_users as u').where('u.run_id', runId).whereRaw('u.user_key = m.user_key').select(db.raw('1')));
  for (;;) {
    const rows = (await unknown.clone().orderBy(['m.file', 'm.line']).limit(CHUNK).select('m.user_key', 'm.group_code', 'm.file', 'm.line')) as {
      user_key: string;
      group_code: string;
      file: string;
      line: number;
    }[];
    if (rows.length === 0) break;
    const problems = rows.map((row) =>
      rowProblem('membership_unknown_user', `user "${row.user_key}" is not in the users files of this set`, { file: row.file, line: Number(row.line), key: row.user_key }),
    );
    rejected += problems.length;
    await recordProblems(db, ctx.database.dialect, runId, problems);
    for (const row of rows) {
      await db('staging_memberships').where({ run_id: runId, user_key: row.user_key, group_code: row.group_code, file: row.file, line: row.line }).delete();
    }
  }
  return rejected;
}

export async function clearStaging(ctx: Context, runId: number): Promise<void> {
  const db = ctx.database.knex;
  for (const table of ['staging_users', 'staging_groups', 'staging_memberships', 'staging_absent']) await db(table).where({ run_id: runId }).delete();
}
