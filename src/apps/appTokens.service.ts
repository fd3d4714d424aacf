import { recordAudit } from '../audit/audit.service.js';
import { notFound, usageError } from '../errors.js';
import { getFeed } from '../feeds/feeds.service.js';
import { findByIdOrPrefix, generateSecret, markRevoked, touchLastUsed, verifySecret, type SecretKind } from '../keys/secretTokens.js';
import { fromDbTime, toDbTime, type Db } from '../storage/dialect.js';

export type AppScope = 'read' | 'write';
export const appScopes: readonly AppScope[] = ['read', 'write'];

export interface AppToken {
  id: number;
  name: string;
  prefix: string;
  feeds: string[];
  feedIds: number[];
  scope: AppScope;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

/** What an authenticated application may do; `write` includes `read`. */
export interface AppGrant {
  tokenId: number;
  prefix: string;
  name: string;
  feedIds: number[];
  scope: AppScope;
}

export { LAST_USED_PRECISION_MS } from '../keys/secretTokens.js';

// `sluiceapp_` never matches a source key's `sluice_<12>_<32>` shape, nor the other way round:
// the two kinds are told apart before any lookup.
const appTokens: SecretKind = { kind: 'sluiceapp_', table: 'app_tokens', hashColumn: 'token_hash' };

/**
 * A token for one application, for the given feeds and scope. The token is random (one SHA-256
 * stores it safely), returned once and never stored.
 */
export async function createAppToken(db: Db, spec: { name: string; feeds: string[]; scope: string }, actor?: string): Promise<{ token: string; appToken: AppToken }> {
  const name = spec.name.trim();
  if (!name) throw usageError('an application token needs a name');
  if (!appScopes.includes(spec.scope as AppScope)) throw usageError(`scope must be read or write (got "${spec.scope}")`);
  if (!spec.feeds.length) throw usageError('an application token needs at least one feed: --feeds a,b');
  const feeds = [];
  for (const slug of spec.feeds) feeds.push(await getFeed(db, slug));
  const { token, prefix, hash } = generateSecret(appTokens.kind);
  const [id] = await db('app_tokens').insert({
    name,
    prefix,
    token_hash: hash,
    feed_ids: JSON.stringify(feeds.map((f) => f.id)),
    scope: spec.scope,
    created_at: toDbTime(),
  });
  if (actor) await recordAudit(db, { actor, action: 'app-token.create', target: prefix, details: { name, feeds: feeds.map((f) => f.slug), scope: spec.scope } });
  return { token, appToken: await getAppToken(db, Number(id)) };
}

async function present(db: Db, rows: Record<string, unknown>[]): Promise<AppToken[]> {
  const slugs = new Map<number, string>((await db('feeds').select('id', 'slug')).map((f: { id: number; slug: string }) => [Number(f.id), f.slug]));
  return rows.map((r) => {
    const feedIds = (JSON.parse(String(r.feed_ids)) as number[]).map(Number);
    return {
      id: Number(r.id),
      name: String(r.name),
      prefix: String(r.prefix),
      feedIds,
      feeds: feedIds.map((id) => slugs.get(id) ?? `#${id}`),
      scope: r.scope as AppScope,
      createdAt: fromDbTime(r.created_at)!,
      lastUsedAt: fromDbTime(r.last_used_at),
      revokedAt: fromDbTime(r.revoked_at),
    };
  });
}

export async function getAppToken(db: Db, id: number): Promise<AppToken> {
  const row = await db('app_tokens').where({ id }).first();
  if (!row) throw notFound('application token', id);
  return (await present(db, [row]))[0]!;
}

export async function listAppTokens(db: Db): Promise<AppToken[]> {
  return present(db, await db('app_tokens').orderBy('id'));
}

/** Revokes by id or by prefix (what `app-token create` printed before the last underscore). */
export async function revokeAppToken(db: Db, idOrPrefix: string, actor?: string): Promise<AppToken> {
  const row = await findByIdOrPrefix(db, 'app_tokens', idOrPrefix);
  if (!row) throw notFound('application token', idOrPrefix);
  if ((await markRevoked(db, 'app_tokens', row)) && actor) await recordAudit(db, { actor, action: 'app-token.revoke', target: row.prefix });
  return getAppToken(db, Number(row.id));
}

/** The grant of a presented token, or null for a missing, malformed, wrong or revoked one. */
export async function authenticateAppToken(db: Db, presented: string): Promise<AppGrant | null> {
  const row = await verifySecret(db, appTokens, presented);
  if (!row) return null;
  await touchLastUsed(db, 'app_tokens', row);
  return {
    tokenId: Number(row.id),
    prefix: String(row.prefix),
    name: String(row.name),
    feedIds: (JSON.parse(String(row.feed_ids)) as number[]).map(Number),
    scope: row.scope as AppScope,
  };
}
