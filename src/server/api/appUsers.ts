import type Router from '@koa/router';
import { applyAppChanges } from '../../apps/appChanges.service.js';
import { syncOneUser } from '../../apps/userSync.service.js';
import type { Context as SluiceContext } from '../../context.js';
import { SluiceError, usageError } from '../../errors.js';
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

const MAX_APP_CHANGES_BYTES = 4 * 1024 * 1024;

async function readJson(ctx: import('koa').Context): Promise<unknown> {
  if (!ctx.is('application/json')) throw usageError('send the changes as application/json');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_APP_CHANGES_BYTES) throw new SluiceError('too_large', `the changes are larger than ${MAX_APP_CHANGES_BYTES} bytes; send them in several requests`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (error) {
    throw usageError(`the body is not JSON: ${(error as Error).message}`);
  }
}

/**
 * `POST /api/v1/feeds/:feed/app-changes`: the application's own changes, applied at once as an
 * `app` run (201 with the run), or none of them with every problem (422).
 */
export function appChangeRoutes(router: Router, sluice: SluiceContext) {
  router.post('/api/v1/feeds/:feed/app-changes', requireAppToken(sluice, 'write'), async (ctx) => {
    const { feed, app } = ctx.state as Required<AppState>;
    const { run, problems } = await applyAppChanges(sluice, feed, await readJson(ctx), `app:${app.prefix}`);
    if (!run) {
      ctx.status = 422;
      ctx.body = { error: { code: 'invalid_changes', message: `${problems.length} change${problems.length === 1 ? ' was' : 's were'} refused; nothing was applied` }, problems };
      return;
    }
    ctx.status = 201;
    ctx.body = { run: await presentRun(sluice.database.knex, run, feed) };
  });
}
