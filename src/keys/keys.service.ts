import { recordAudit } from '../audit/audit.service.js';
import { notFound } from '../errors.js';
import { getFeed } from '../feeds/feeds.service.js';
import { fromDbTime, toDbTime, type Db } from '../storage/dialect.js';
import { findByIdOrPrefix, generateSecret, markRevoked, touchLastUsed, verifySecret, type SecretKind } from './secretTokens.js';

export interface ApiKey {
  id: number;
  feedId: number;
  prefix: string;
  label: string | null;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

const apiKeys: SecretKind = { kind: 'sluice_', table: 'api_keys', hashColumn: 'key_hash' };

/**
 * Keys look like `sluice_<12 characters>_<32 characters>`. They are random, so one SHA-256 is
 * enough to store them safely; the key itself is shown once and never stored.
 */
export async function createApiKey(db: Db, feedSlug: string, label?: string, actor?: string): Promise<{ key: string; apiKey: ApiKey }> {
  const feed = await getFeed(db, feedSlug);
  const { token: key, prefix, hash } = generateSecret(apiKeys.kind);
  const [id] = await db('api_keys').insert({ feed_id: feed.id, prefix, key_hash: hash, label: label ?? null, created_at: toDbTime() });
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
  const row = await findByIdOrPrefix(db, 'api_keys', idOrPrefix);
  if (!row) throw notFound('API key', idOrPrefix);
  if ((await markRevoked(db, 'api_keys', row)) && actor) await recordAudit(db, { actor, action: 'key.revoke', target: row.prefix });
  return getApiKey(db, Number(row.id));
}

/** The feed a presented key may write to, or null for a missing, wrong or revoked key. */
export async function authenticateApiKey(db: Db, presented: string): Promise<{ keyId: number; feedId: number; prefix: string } | null> {
  const row = await verifySecret(db, apiKeys, presented);
  if (!row) return null;
  await touchLastUsed(db, 'api_keys', row);
  return { keyId: Number(row.id), feedId: Number(row.feed_id), prefix: String(row.prefix) };
}
