import type { Context, Next } from 'koa';
import { PERSONAL_TOKEN_PREFIX } from '../../admins/personalTokens.service.js';
import { SluiceError } from '../../errors.js';
import { getFeed, type Feed } from '../../feeds/feeds.service.js';
import { authenticateApiKey } from '../../keys/keys.service.js';
import type { Context as SluiceContext } from '../../context.js';

export interface ApiState {
  feed?: Feed;
  keyFeedId: number;
  /** The key's public prefix: how API actions are named in the audit log. */
  keyPrefix: string;
}

/** The key from `Authorization: Bearer <key>` or HTTP Basic with the key as the password. */
export function presentedKey(header: string | undefined): string | null {
  if (!header) return null;
  const [scheme, value] = header.split(' ', 2);
  if (!value) return null;
  if (/^bearer$/i.test(scheme!)) return value.trim();
  if (/^basic$/i.test(scheme!)) {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    return decoded.slice(decoded.indexOf(':') + 1);
  }
  return null;
}

/**
 * Checks the API key before anything of the request body is read. A key belongs to one feed:
 * with a `:feed` in the path it must be that feed's key.
 */
export function requireApiKey(sluice: SluiceContext) {
  return async (ctx: Context, next: Next) => {
    const key = presentedKey(ctx.get('authorization') || undefined);
    if (!key) throw new SluiceError('unauthorized', 'an API key is required: Authorization: Bearer <key>');
    if (key.startsWith(PERSONAL_TOKEN_PREFIX)) throw new SluiceError('unauthorized', "a personal API token acts on runs only; uploads need the feed's API key");
    const auth = await authenticateApiKey(sluice.database.knex, key);
    if (!auth) throw new SluiceError('unauthorized', 'the API key is not valid or was revoked');
    const state = ctx.state as ApiState;
    state.keyFeedId = auth.feedId;
    state.keyPrefix = auth.prefix;
    if (ctx.params?.feed !== undefined) {
      const feed = await getFeed(sluice.database.knex, String(ctx.params.feed));
      if (feed.id !== auth.feedId) throw new SluiceError('forbidden', `this API key belongs to another feed than ${feed.slug}`);
      state.feed = feed;
    }
    await next();
  };
}
