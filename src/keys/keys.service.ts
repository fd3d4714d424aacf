import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { recordAudit } from '../audit/audit.service.js';
import { notFound } from '../errors.js';
import { getFeed } from '../feeds/feeds.service.js';
import { fromDbTime, toDbTime, type Db } from '../storage/dialect.js';

export interface ApiKey {
  id: number;
  feedId: number;
  prefix: string;
  label: string | null;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

const hash = (key: string) => createHash('sha256').update(key).digest('hex');

/**
 * Keys look like `sluice_<12 characters>_<32 characters>`. They are random, so one SHA-256 is
 * enough to store them safely; the key itself is shown once and never stored.
 */
export async function createApiKey(db: Db, feedSlug: string, label?: string, actor?: string): Promise<{ key: string; apiKey: ApiKey }> {
  const feed = await getFeed(db, feedSlug);
  const prefix = `sluice_${randomBytes(9).toString('base64url')}`;
  const key = `${prefix}_${randomBytes(24).toString('base64url')}`;
  const [id] = await db('api_keys').insert({ feed_id: feed.id, prefix, key_hash: hash(key), label: label ?? null, created_at: toDbTime() });
  if (actor) await recordAudit(db, { actor, action: 'key.create', target: `feed ${feed.slug}`, details: { prefix, label: label ?? null } });
  return { key, apiKey: await getApiKey(db, Number(id)) };
}

/* eslint-disable @typescript-eslint/no-explicit-any */
const fromRow = (r: any): ApiKey => ({
  id: Number(r.id),
  feedId: Number(r.feed_id),
  prefix: r.prefix,
  label: r.label,
  createdAt: fromDbTime(r.created_at)!,
  lastUsedAt: fromDbTime(r.last_used_at),
  revokedAt: fromDbTime(r.revoked_at),
});

export async function getApiKey(db: Db, id: number): Promise<ApiKey> {
  const row = await db('api_keys').where({ id }).first();
  if (!row) throw notFound('API key', id);
  return fromRow(row);
}

export async function listApiKeys(db: Db, feedId?: number): Promise<ApiKey[]> {
  const query = db('api_keys').orderBy('id');
  if (feedId !== undefined) query.where({ feed_id: feedId });
  return (await query).map(fromRow);
}

/** Revokes by id or by prefix (what `key create` printed before the second underscore). */
export async function revokeApiKey(db: Db, idOrPrefix: string, actor?: string): Promise<ApiKey> {
  const row = await db('api_keys')
    .where(/^\d+$/.test(idOrPrefix) ? { id: Number(idOrPrefix) } : { prefix: idOrPrefix })
    .first();
  if (!row) throw notFound('API key', idOrPrefix);
  if (!row.revoked_at) {
    await db('api_keys').where({ id: row.id }).update({ revoked_at: toDbTime() });
    if (actor) await recordAudit(db, { actor, action: 'key.revoke', target: row.prefix });
  }
  return getApiKey(db, Number(row.id));
}

/** The feed a presented key may write to, or null for a missing, wrong or revoked key. */
export async function authenticateApiKey(db: Db, presented: string): Promise<{ keyId: number; feedId: number; prefix: string } | null> {
  const match = /^(sluice_[A-Za-z0-9_-]{12})_[A-Za-z0-9_-]{32}$/.exec(presented);
  if (!match) return null;
  const row = await db('api_keys').where({ prefix: match[1] }).first();
  if (!row || row.revoked_at) return null;
  const expected = Buffer.from(row.key_hash, 'hex');
  if (!timingSafeEqual(expected, Buffer.from(hash(presented), 'hex'))) return null;
  await db('api_keys').where({ id: row.id }).update({ last_used_at: toDbTime() });
  return { keyId: Number(row.id), feedId: Number(row.feed_id), prefix: String(row.prefix) };
}
