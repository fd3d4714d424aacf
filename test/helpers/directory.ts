import type { Context } from '../../src/context.js';

/** The directory of a feed as plain data, for comparing snapshots (ids and times left out). */
export async function directorySnapshot(ctx: Context, feedSlug: string) {
  const db = ctx.database.knex;
  const feed = await db('feeds').where({ slug: feedSlug }).first('id');
  const users = await db('directory_users')
    .where({ feed_id: feed.id })
    .orderBy('user_key')
    .select('user_key', 'username', 'email', 'first_name', 'last_name', 'title', 'job_title', 'company', 'country', 'biography', 'additional_info', 'avatar_url', 'badge_url', 'custom', 'state', 'record_hash');
  const groups = await db('directory_groups').where({ feed_id: feed.id }).orderBy('code').select('code', 'name');
  const memberships = await db('directory_memberships as m')
    .join('directory_users as u', 'u.id', 'm.user_id')
    .join('directory_groups as g', 'g.id', 'm.group_id')
    .where('m.feed_id', feed.id)
    .orderBy(['u.user_key', 'g.code'])
    .select('u.user_key', 'g.code', 'm.managed');
  return {
    users: users.map((u: Record<string, unknown>) => ({ ...u })),
    groups: groups.map((g: Record<string, unknown>) => ({ ...g })),
    memberships: memberships.map((m: Record<string, unknown>) => ({ user: m.user_key, group: m.code, managed: Number(m.managed) })),
  };
}

/**
 * A user's row, with `last_seen_in_run` read by the README's rule (0: the feed's latest full
 * run) and the stored value as `stored_last_seen_in_run`.
 */
export async function directoryUser(ctx: Context, key: string) {
  const db = ctx.database.knex;
  return db('directory_users as u')
    .join('feeds as f', 'f.id', 'u.feed_id')
    .where({ 'u.user_key': key })
    .first('u.*', 'u.last_seen_in_run as stored_last_seen_in_run', db.raw('COALESCE(NULLIF(u.last_seen_in_run, 0), f.last_full_run_id) AS last_seen_in_run'));
}

export async function groupsOf(ctx: Context, key: string): Promise<string[]> {
  return (await ctx.database.knex('directory_memberships as m')
    .join('directory_users as u', 'u.id', 'm.user_id')
    .join('directory_groups as g', 'g.id', 'm.group_id')
    .where('u.user_key', key)
    .orderBy('g.code')
    .pluck('g.code')) as string[];
}
