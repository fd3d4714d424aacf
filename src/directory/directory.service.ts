import { fieldChanges } from '../core/fieldChanges.js';
import { notFound } from '../errors.js';
import { countRows, dialectOf } from '../storage/database.js';
import { fromDbTime, type Db } from '../storage/dialect.js';
import { fieldOfColumn, profileColumns } from './userColumns.js';

export interface DirectoryUser {
  feedId: number;
  feedSlug: string;
  key: string;
  state: string;
  fields: { name: string; value: unknown; locked: boolean }[];
  /** The fields the source owns: those its mapping names, less the feed's `appOwnedFields`. */
  lockedFields: string[];
  /** The fields the source's last run mapped (`locked_fields` as stored): what its record hash covers. */
  mappedFields: string[];
  sourceRecord: unknown;
  createdAt: string;
  updatedAt: string;
  suspendedAt: string | null;
  createdInRun: number;
  lastSeenInRun: number;
}

/* eslint-disable @typescript-eslint/no-explicit-any */
export const fromRow = (r: any): DirectoryUser => {
  const mappedFields = JSON.parse(r.locked_fields ?? '[]') as string[];
  const appOwned = appOwnedOf(r.feed_settings);
  const lockedFields = appOwned.length ? mappedFields.filter((f) => !appOwned.includes(f)) : mappedFields;
  const fields: DirectoryUser['fields'] = profileColumns
    .filter((column) => r[column] !== null && r[column] !== undefined)
    .map((column) => ({ name: fieldOfColumn[column]!, value: r[column], locked: lockedFields.includes(fieldOfColumn[column]!) }));
  for (const [name, value] of Object.entries(JSON.parse(r.custom ?? '{}') as Record<string, unknown>)) {
    fields.push({ name: `custom.${name}`, value, locked: lockedFields.includes(`custom.${name}`) || lockedFields.includes('custom') });
  }
  let sourceRecord: unknown = r.source_record;
  try {
    sourceRecord = r.source_record ? JSON.parse(r.source_record) : null;
  } catch {
    /* kept as text */
  }
  return {
    feedId: Number(r.feed_id),
    feedSlug: r.feed_slug,
    key: r.user_key,
    state: r.state,
    fields,
    lockedFields,
    mappedFields,
    sourceRecord,
    createdAt: fromDbTime(r.created_at)!,
    updatedAt: fromDbTime(r.updated_at)!,
    suspendedAt: fromDbTime(r.suspended_at),
    createdInRun: Number(r.created_in_run),
    lastSeenInRun: Number(r.last_seen_in_run) || Number(r.feed_last_full_run_id),
  };
};

/** The feed's `appOwnedFields` from its stored settings (JSON): fields the application owns even where the source maps them. */
function appOwnedOf(settings: unknown): string[] {
  if (typeof settings !== 'string') return [];
  const owned = (JSON.parse(settings) as { appOwnedFields?: unknown }).appOwnedFields;
  return Array.isArray(owned) ? owned.filter((f): f is string => typeof f === 'string') : [];
}

/**
 * What `fromRow` reads: `last_seen_in_run` is 0 for the users of the feed's latest full run
 * (README, "directory_users"); the feed's settings say which mapped fields the application owns.
 */
export const directoryUserSelect = ['u.*', 'f.slug as feed_slug', 'f.last_full_run_id as feed_last_full_run_id', 'f.settings as feed_settings'];
const users = (db: Db) => db('directory_users as u').join('feeds as f', 'f.id', 'u.feed_id').select(directoryUserSelect);

/**
 * Users whose key is exactly `query`, or whose email address is `query` in any letter case, in
 * every feed. Sources store e-mails as they send them (`Ann.Lee@Example.org`), and SQLite and a
 * MySQL column with a binary collation compare case-sensitively: lower() on both sides is the
 * one comparison both databases agree on, read through an index of the lower-cased address
 * (`dialect.lowerEmail`). Keys are looked up per feed, along the (feed, key) index: a lookup
 * costs the same in a directory of a million users as in one of a hundred.
 */
export async function lookUpUsers(db: Db, query: string, limit = 50): Promise<DirectoryUser[]> {
  const text = query.trim();
  if (!text) return [];
  // E-mails (and e-mail keys) are stored as NFKC: an address typed as the source spelled it
  // (fullwidth, decomposed) must find its user too.
  const address = text.normalize('NFKC').toLowerCase();
  const feedIds = (await db('feeds').pluck('id')) as number[];
  const byKey = await users(db)
    .whereIn('u.feed_id', feedIds)
    .whereIn('u.user_key', text.includes('@') ? [...new Set([text, address])] : [text])
    .limit(limit);
  const byEmail = await users(db).whereRaw(`${dialectOf(db).lowerEmail('u')} = lower(?)`, [text.normalize('NFKC')]).limit(limit);
  const found = new Map<number, Record<string, unknown>>();
  for (const row of [...byKey, ...byEmail]) found.set(Number(row.id), row);
  return [...found.values()]
    .map(fromRow)
    .sort((a, b) => (a.feedSlug < b.feedSlug ? -1 : a.feedSlug > b.feedSlug ? 1 : a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .slice(0, limit);
}

/**
 * Users whose key, e-mail address, first or last name contains `query` in any letter case, in
 * every feed, a page at a time; exact key or e-mail matches come first. A lookup by part of a
 * value cannot use an index: it reads the directory once, which an administrator's search can
 * afford and a sync never does.
 */
export async function searchUsers(
  db: Db,
  query: string,
  page: { limit: number; offset: number },
  within: { feedId?: number; state?: string } = {},
): Promise<{ total: number; users: DirectoryUser[] }> {
  const text = query.trim().normalize('NFKC').toLowerCase(); // as e-mails are stored
  if (!text) return { total: 0, users: [] };
  const like = `%${text.replace(/[!%_]/g, (c) => `!${c}`)}%`;
  const matching = () => {
    const q = users(db).where((q) => {
      for (const column of ['u.user_key', 'u.email', 'u.first_name', 'u.last_name']) q.orWhereRaw(`lower(${column}) like ? escape '!'`, [like]);
    });
    if (within.feedId !== undefined) q.where('u.feed_id', within.feedId);
    if (within.state) q.where('u.state', within.state);
    return q;
  };
  const total = await countRows(matching());
  const rows = await matching()
    .orderByRaw('CASE WHEN lower(u.user_key) = ? OR lower(u.email) = ? THEN 0 ELSE 1 END', [text, text])
    .orderBy(['f.slug', 'u.user_key'])
    .limit(page.limit)
    .offset(page.offset);
  return { total, users: rows.map(fromRow) };
}

export async function getDirectoryUser(db: Db, feedId: number, key: string): Promise<DirectoryUser> {
  const row = await users(db).where({ 'u.feed_id': feedId, 'u.user_key': key }).first();
  if (!row) throw notFound('user', key);
  return fromRow(row);
}

export async function userGroups(db: Db, feedId: number, key: string) {
  const rows = await db('directory_memberships as m')
    .join('directory_groups as g', 'g.id', 'm.group_id')
    .where({ 'm.feed_id': feedId, 'm.user_key': key })
    .orderBy('g.code')
    .select('g.code', 'g.name', 'm.managed');
  return rows.map((r: any) => ({ code: r.code as string, name: r.name as string, managed: Boolean(Number(r.managed)) }));
}

/** The user's entries in the change log, newest first: their own and their memberships'. */
export async function userHistory(db: Db, feedId: number, key: string, limit = 200) {
  const rows = await db('directory_changes')
    .where({ feed_id: feedId, entity_key: key })
    .whereIn('entity', ['user', 'membership'])
    .orderBy('seq', 'desc')
    .limit(limit);
  return rows.map((r: any) => ({
    seq: Number(r.seq),
    runId: Number(r.run_id),
    at: fromDbTime(r.created_at)!,
    entity: r.entity as string,
    operation: r.operation as string,
    groupCode: r.group_code as string | null,
    fields: fieldChanges(r.before_values, r.after_values),
  }));
}

export async function listGroups(db: Db, feedId: number, page: { limit: number; offset: number }) {
  const total = await countRows(db('directory_groups').where({ feed_id: feedId }));
  const rows = await db('directory_groups as g')
    .where('g.feed_id', feedId)
    .orderBy('g.code')
    .limit(page.limit)
    .offset(page.offset)
    .select('g.code', 'g.name', 'g.created_at', 'g.created_in_run', db.raw('(SELECT COUNT(*) FROM directory_memberships m WHERE m.group_id = g.id) AS members'));
  return {
    total,
    groups: rows.map((r: any) => ({ code: r.code as string, name: r.name as string, members: Number(r.members), createdAt: fromDbTime(r.created_at)!, createdInRun: Number(r.created_in_run) })),
  };
}

/** A group's members with their names and e-mail addresses, by key, a page at a time. */
export async function groupMembers(db: Db, feedId: number, code: string, page: { limit: number; offset: number }) {
  const group = await db('directory_groups').where({ feed_id: feedId, code }).first('id', 'code', 'name');
  if (!group) throw notFound('group', code);
  const members = () => db('directory_memberships as m').join('directory_users as u', 'u.id', 'm.user_id').where('m.group_id', group.id);
  const total = await countRows(members());
  const rows = await members().orderBy('m.user_key').limit(page.limit).offset(page.offset).select('m.user_key', 'm.managed', 'u.first_name', 'u.last_name', 'u.email', 'u.state');
  return {
    group: { code: group.code as string, name: group.name as string },
    total,
    members: rows.map((r: any) => ({ key: r.user_key as string, name: [r.first_name, r.last_name].filter(Boolean).join(' '), email: r.email as string | null, state: r.state as string, managed: Boolean(Number(r.managed)) })),
  };
}
