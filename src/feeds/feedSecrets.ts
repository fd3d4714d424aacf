import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { recordAudit } from '../audit/audit.service.js';
import type { Context } from '../context.js';
import { SluiceError } from '../errors.js';
import { toDbTime } from '../storage/dialect.js';
import { getFeed } from './feeds.service.js';

/**
 * Pull credentials and tokens, encrypted with AES-256-GCM under SLUICE_SECRET_KEY. The feed and
 * the name are bound in as associated data, so a value copied to another row does not decrypt.
 */
function requireKey(ctx: Context): Buffer {
  if (!ctx.config.secretKey) {
    throw new SluiceError('config_invalid', 'pull credentials are stored encrypted: set SLUICE_SECRET_KEY to 32 random bytes (openssl rand -base64 32) first');
  }
  return ctx.config.secretKey;
}

function encrypt(key: Buffer, aad: string, plain: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad));
  const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return ['v1', iv.toString('base64'), cipher.getAuthTag().toString('base64'), data.toString('base64')].join(':');
}

function decrypt(key: Buffer, aad: string, stored: string): string {
  const [version, iv, tag, data] = stored.split(':');
  if (version !== 'v1' || !iv || !tag || data === undefined) throw new SluiceError('config_invalid', 'a stored pull secret is not readable');
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'));
    decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(data, 'base64')), decipher.final()]).toString('utf8');
  } catch {
    throw new SluiceError('config_invalid', 'a stored pull secret does not decrypt: SLUICE_SECRET_KEY differs from the key it was stored with; set the secret again');
  }
}

const aadOf = (feedId: number, name: string) => `sluice:${feedId}:${name}`;

/** Stores (or with null, removes) a secret; `actor` is audited, never the value. */
export async function setFeedSecret(ctx: Context, slug: string, name: string, value: string | null, actor?: string): Promise<void> {
  const db = ctx.database.knex;
  const feed = await getFeed(db, slug);
  if (value === null || value === '') {
    await db('feed_secrets').where({ feed_id: feed.id, name }).delete();
  } else {
    const row = { feed_id: feed.id, name, value: encrypt(requireKey(ctx), aadOf(feed.id, name), value), updated_at: toDbTime() };
    await db('feed_secrets').insert(row).onConflict(['feed_id', 'name']).merge(['value', 'updated_at']);
  }
  if (actor) await recordAudit(db, { actor, action: value ? 'feed.secret.set' : 'feed.secret.remove', target: `feed ${feed.slug}`, details: { name } });
}

export async function getFeedSecret(ctx: Context, feedId: number, name: string): Promise<string | null> {
  const row = (await ctx.database.knex('feed_secrets').where({ feed_id: feedId, name }).first('value')) as { value: string } | undefined;
  return row ? decrypt(requireKey(ctx), aadOf(feedId, name), row.value) : null;
}

/** Which secrets a feed has, by name, for pages that say "set" without showing them. */
export async function feedSecretNames(ctx: Context, feedId: number): Promise<string[]> {
  return (await ctx.database.knex('feed_secrets').where({ feed_id: feedId }).orderBy('name').pluck('name')) as string[];
}
