import type Router from '@koa/router';
import type { Context as SluiceContext } from '../../context.js';
import { startSyncNow, syncNow } from '../../pull/pullFeed.js';
import { presentRun } from '../../runs/runs.presenter.js';
import { requestRunWork } from '../../runs/runRequests.js';
import type { BackgroundWork } from '../backgroundWork.js';
import { requireApiKey, type ApiState } from './auth.js';
import { runUrl } from './runs.js';

/**
 * `POST /api/v1/feeds/:feed/sync`: "Sync now" for a feed that pulls from its source's API. The
 * pull goes on after the answer (202); the run's status URL follows it.
 */
export function pullRoutes(router: Router, sluice: SluiceContext, background: BackgroundWork) {
  router.post('/api/v1/feeds/:feed/sync', requireApiKey(sluice), async (ctx) => {
    const { feed, keyPrefix } = ctx.state as Required<ApiState>;
    const run = await startSyncNow(sluice, feed, `api:${keyPrefix}`);
    // Errors are logged by BackgroundWork, and a failed pull is a failed run.
    if (background.executorRunning) await requestRunWork(sluice, { action: 'sync', runId: run.id, feedId: feed.id, actor: `api:${keyPrefix}` });
    else void background.start(`sync run ${run.id}`, () => syncNow(sluice, feed.id, run), 0).catch(() => undefined);
    ctx.status = 202;
    ctx.body = { ...(await presentRun(sluice.database.knex, run, feed)), statusUrl: runUrl(sluice, run.id) };
  });
}
