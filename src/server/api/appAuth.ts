import type { Context, Next } from 'koa';
import { PERSONAL_TOKEN_PREFIX } from '../../admins/personalTokens.service.js';
import { authenticateAppToken, type AppGrant, type AppScope } from '../../apps/appTokens.service.js';
import { SluiceError } from '../../errors.js';
import { getFeed, type Feed } from '../../feeds/feeds.service.js';
import type { Context as SluiceContext } from '../../context.js';
import { presentedKey } from './auth.js';

export interface AppState {
  app: AppGrant;
  feed?: Feed;
}

/**
 * Checks an application token for the directory API. A source's API key is refused here
 * whatever it is, so a source system can never read the directory; with a `:feed` in the path
 * the token must name that feed, and `write` routes need a write token.
 */
export function requireAppToken(sluice: SluiceContext, scope: AppScope) {
  return async (ctx: Context, next: Next) => {
    const token = presentedKey(ctx.get('authorization') || undefined);
    if (!token) throw new SluiceError('unauthorized', 'an application token is required: Authorization: Bearer <token>');
    if (token.startsWith('sluice_')) throw new SluiceError('unauthorized', "a source's API key cannot use the directory API; create an application token: sluice app-token create");
    if (token.startsWith(PERSONAL_TOKEN_PREFIX)) throw new SluiceError('unauthorized', "a personal API token acts on runs only; the directory API needs an application token: sluice app-token create");
    const grant = await authenticateAppToken(sluice.database.knex, token);
    if (!grant) throw new SluiceError('unauthorized', 'the application token is not valid or was revoked');
    if (scope === 'write' && grant.scope !== 'write') throw new SluiceError('forbidden', 'this application token may only read');
    const state = ctx.state as AppState;
    state.app = grant;
    if (ctx.params?.feed !== undefined) {
      const feed = await getFeed(sluice.database.knex, String(ctx.params.feed));
      if (!grant.feedIds.includes(feed.id)) throw new SluiceError('forbidden', `this application token does not reach feed ${feed.slug}`);
      state.feed = feed;
    }
    await next();
  };
}
