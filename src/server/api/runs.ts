import type Router from '@koa/router';
import type { Context as SluiceContext } from '../../context.js';
import { SluiceError } from '../../errors.js';
import { getFeed } from '../../feeds/feeds.service.js';
import { presentRun } from '../../runs/runs.presenter.js';
import { getRun, listRuns } from '../../runs/runs.service.js';
import { requireApiKey, type ApiState } from './auth.js';

export const runUrl = (sluice: SluiceContext, id: number) => new URL(`/api/v1/runs/${id}`, sluice.config.publicUrl).toString();

/** `GET /api/v1/runs/:id` and `GET /api/v1/feeds/:feed/runs`, for a key of the run's feed. */
export function runRoutes(router: Router, sluice: SluiceContext) {
  const db = sluice.database.knex;
  router.get('/api/v1/runs/:id', requireApiKey(sluice), async (ctx) => {
    const id = Number(ctx.params.id);
    const row = Number.isInteger(id) ? await db('runs').where({ id }).first('feed_id') : undefined;
    if (!row || Number(row.feed_id) !== (ctx.state as ApiState).keyFeedId) throw new SluiceError('not_found', `run ${ctx.params.id} does not exist`);
    const run = await getRun(db, id);
    ctx.body = { ...(await presentRun(db, run, await getFeed(db, run.feedId))), statusUrl: runUrl(sluice, id) };
  });
  router.get('/api/v1/feeds/:feed/runs', requireApiKey(sluice), async (ctx) => {
    const { feed } = ctx.state as Required<ApiState>;
    const limit = Math.min(Number(ctx.query.limit ?? 50) || 50, 500);
    const runs = await listRuns(db, { feedId: feed.id, limit });
    ctx.body = await Promise.all(runs.map(async (run) => ({ ...(await presentRun(db, run, feed)), statusUrl: runUrl(sluice, run.id) })));
  });
}
