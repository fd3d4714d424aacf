import { notFound, usageError } from '../errors.js';
import { toDbTime, type Db } from '../storage/dialect.js';
import { directoryUserSelect, fromRow, getDirectoryUser, userGroups, type DirectoryUser } from './directory.service.js';

/** A user as the read API shows it: fields by name, the fields the source locks, groups, state. */
export interface PresentedUser {
  key: string;
  state: string;
  fields: Record<string, unknown>;
  lockedFields: string[];
  groups?: { code: string; name: string; managed: boolean }[];
  createdAt: string;
  updatedAt: string;
  suspendedAt: string | null;
}

export const presentUser = (u: DirectoryUser): PresentedUser => ({
  key: u.key,
  state: u.state,
  fields: Object.fromEntries(u.fields.map((f) => [f.name, f.value])),
  lockedFields: u.lockedFields,
  createdAt: u.createdAt,
  updatedAt: u.updatedAt,
  suspendedAt: u.suspendedAt,
});

export const MAX_PAGE = 1000;

/** A page and the cursor for the next one (null on the last page). */
export interface Page<T> {
  items: T[];
  next: string | null;
}

const pageSize = (limit: number | undefined) => Math.max(1, Math.min(MAX_PAGE, Math.floor(limit ?? 100) || 100));

/**
 * The feed's users by their row id, which never changes: a cursor taken from one page still
 * points at the same place however many users are added or updated meanwhile.
 */
export async function listUsers(db: Db, feedId: number, query: { after?: string; limit?: number; state?: string; updatedSince?: string }): Promise<Page<PresentedUser>> {
  const limit = pageSize(query.limit);
  const after = cursorNumber(query.after);
  const q = db('directory_users as u').join('feeds as f', 'f.id', 'u.feed_id').where('u.feed_id', feedId).where('u.id', '>', after).orderBy('u.id').limit(limit + 1);
  if (query.state) q.where('u.state', query.state);
  if (query.updatedSince) {
    const since = Date.parse(query.updatedSince);
    if (Number.isNaN(since)) throw usageError(`updatedSince must be a date and time like 2026-11-28T06:00:00Z (got "${query.updatedSince}")`);
    q.where('u.updated_at', '>=', toDbTime(new Date(since)));
  }
  const rows = await q.select(directoryUserSelect);
  const more = rows.length > limit;
  const items = rows.slice(0, limit);
  return { items: items.map((r: Record<string, unknown>) => presentUser(fromRow(r))), next: more ? String(items[items.length - 1]!.id) : null };
}

export async function readUser(db: Db, feedId: number, key: string): Promise<PresentedUser> {
  return { ...presentUser(await getDirectoryUser(db, feedId, key)), groups: await userGroups(db, feedId, key) };
}

/** The feed's groups in code order; the cursor is the last code. */
export async function listFeedGroups(db: Db, feedId: number, query: { after?: string; limit?: number }): Promise<Page<{ code: string; name: string; members: number }>> {
  const limit = pageSize(query.limit);
  const q = db('directory_groups as g').where('g.feed_id', feedId).orderBy('g.code').limit(limit + 1);
  if (query.after) q.where('g.code', '>', query.after);
  const rows = await q.select('g.code', 'g.name', db.raw('(SELECT COUNT(*) FROM directory_memberships m WHERE m.group_id = g.id) AS members'));
  const items = rows.slice(0, limit).map((r: Record<string, unknown>) => ({ code: String(r.code), name: String(r.name), members: Number(r.members) }));
  return { items, next: rows.length > limit ? items[items.length - 1]!.code : null };
}

/** A group's members in key order; the cursor is the last key. */
export async function listGroupMembers(db: Db, feedId: number, code: string, query: { after?: string; limit?: number }): Promise<Page<{ key: string; state: string; managed: boolean }>> {
  const group = await db('directory_groups').where({ feed_id: feedId, code }).first('id');
  if (!group) throw notFound('group', code);
  const limit = pageSize(query.limit);
  const q = db('directory_memberships as m').join('directory_users as u', 'u.id', 'm.user_id').where('m.group_id', group.id).orderBy('m.user_key').limit(limit + 1);
  if (query.after) q.where('m.user_key', '>', query.after);
  const rows = await q.select('m.user_key', 'u.state', 'm.managed');
  const items = rows.slice(0, limit).map((r: Record<string, unknown>) => ({ key: String(r.user_key), state: String(r.state), managed: Boolean(Number(r.managed)) }));
  return { items, next: rows.length > limit ? items[items.length - 1]!.key : null };
}

function cursorNumber(text: string | undefined): number {
  if (text === undefined || text === '') return 0;
  if (!/^\d+$/.test(text)) throw usageError(`after must be the "next" cursor of the previous page (got "${text}")`);
  return Number(text);
}
