import { Readable } from 'node:stream';
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Context as SluiceContext } from '../../context.js';
import { MAX_CHANGES_PER_PAGE, readChanges } from '../../directory/changeLog.js';
import { listFeedGroups, listGroupMembers, listUsers, readUser } from '../../directory/directoryRead.service.js';
import { usageError } from '../../errors.js';
import { requireAppToken, type AppState } from './appAuth.js';

const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
const number = (value: unknown, name: string): number | undefined => {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string' || !/^\d+$/.test(value)) throw usageError(`${name} must be a whole number (got "${String(value)}")`);
  return Number(value);
};

/** NDJSON streams up to this many changes in one answer, read from the log a page at a time. */
export const MAX_NDJSON_CHANGES = 1_000_000;
const NDJSON_PAGE = 2000;

const wantsNdjson = (ctx: Context) => ctx.query.format === 'ndjson' || /application\/x-ndjson/i.test(ctx.get('accept'));

/** The read API for applications (README, "Reading the directory"): users, groups, members, change log. */
export function directoryRoutes(router: Router, sluice: SluiceContext) {
  const db = sluice.database.knex;
  const read = requireAppToken(sluice, 'read');
  const feedOf = (ctx: Context) => (ctx.state as Required<AppState>).feed;

  router.get('/api/v1/feeds/:feed/users', read, async (ctx) => {
    const q = ctx.query;
    ctx.body = await listUsers(db, feedOf(ctx).id, { after: text(q.after), limit: number(q.limit, 'limit'), state: text(q.state), updatedSince: text(q.updatedSince) });
  });
  router.get('/api/v1/feeds/:feed/users/:key', read, async (ctx) => {
    ctx.body = await readUser(db, feedOf(ctx).id, String(ctx.params.key));
  });
  router.get('/api/v1/feeds/:feed/groups', read, async (ctx) => {
    ctx.body = await listFeedGroups(db, feedOf(ctx).id, { after: text(ctx.query.after), limit: number(ctx.query.limit, 'limit') });
  });
  router.get('/api/v1/feeds/:feed/groups/:code/members', read, async (ctx) => {
    ctx.body = await listGroupMembers(db, feedOf(ctx).id, String(ctx.params.code), { after: text(ctx.query.after), limit: number(ctx.query.limit, 'limit') });
  });

  /**
   * The change log after a commit number, in commit order, for the token's feeds. NDJSON is
   * streamed page by page, so a large read never sits whole in memory; each line carries its
   * `commitSeq`, the cursor to resume from.
   */
  router.get('/api/v1/changes', read, async (ctx) => {
    const { app } = ctx.state as AppState;
    const after = number(ctx.query.after, 'after') ?? 0;
    const ndjson = wantsNdjson(ctx);
    const limit = Math.min(number(ctx.query.limit, 'limit') ?? (ndjson ? MAX_NDJSON_CHANGES : 1000), ndjson ? MAX_NDJSON_CHANGES : MAX_CHANGES_PER_PAGE);
    if (!ndjson) {
      ctx.body = await readChanges(db, { after, limit, feedIds: app.feedIds });
      return;
    }
    ctx.type = 'application/x-ndjson';
    ctx.body = Readable.from(
      (async function* () {
        let cursor = after;
        for (let left = limit; left > 0; ) {
          const page = await readChanges(db, { after: cursor, limit: Math.min(NDJSON_PAGE, left), feedIds: app.feedIds });
          if (!page.changes.length) return;
          yield page.changes.map((c) => `${JSON.stringify(c)}\n`).join('');
          cursor = page.last;
          left -= page.changes.length;
        }
      })(),
    );
  });
}
