import type Router from '@koa/router';
import type { Context as SluiceContext } from '../../context.js';
import { processQueue } from '../../pipeline/queue.js';
import { completePull, startPull } from '../../pull/pullFeed.js';
import { presentRun } from '../../runs/runs.presenter.js';
import type { BackgroundWork } from '../backgroundWork.js';
import { requireApiKey, type ApiState } from './auth.js';
import { runUrl } from './runs.js';

/**
 * `POST /api/v1/feeds/:feed/sync`: "Sync now" for a feed that pulls from its source's API. The
 * pull goes on after the answer (202); the run's status URL follows it.
 */
export function pullRoutes(router: Router, sluice: SluiceContext, background: BackgroundWork) {
  router.post('/api/v1/feeds/:feed/sync', requireApiKey(sluice), async (ctx) => {
    const { feed } = ctx.state as Required<ApiState>;
    const run = await startPull(sluice, feed, 'api');
    void background.start(`sync run ${run.id}`, async () => {
      await completePull(sluice, feed.id, run);
      await processQueue(sluice, { feedId: feed.id });
    }, 0).catch(() => undefined); // logged by BackgroundWork; the run records the failure
    ctx.status = 202;
    ctx.body = { ...(await presentRun(sluice.database.knex, run, feed)), statusUrl: runUrl(sluice, run.id) };
  });
}
