import type Router from '@koa/router';
import { syncOneUser } from '../../apps/userSync.service.js';
import type { Context as SluiceContext } from '../../context.js';
import { presentRun } from '../../runs/runs.presenter.js';
import { requireAppToken, type AppState } from './appAuth.js';

/**
 * `POST /api/v1/feeds/:feed/users/:key/sync`: refresh one user from the source now (a sign-in,
 * say). 200 with the user once applied; 202 when its run is held or waits behind a held run;
 * 422 when the record failed validation.
 */
export function appUserRoutes(router: Router, sluice: SluiceContext) {
  router.post('/api/v1/feeds/:feed/users/:key/sync', requireAppToken(sluice, 'write'), async (ctx) => {
    const { feed, app } = ctx.state as Required<AppState>;
    const { run, user } = await syncOneUser(sluice, feed, String(ctx.params.key), `app:${app.prefix}`);
    const presented = await presentRun(sluice.database.knex, run, feed);
    ctx.status = run.state === 'applied' ? 200 : run.state === 'failed' ? 422 : 202;
    ctx.body = { user, run: presented };
  });
}
