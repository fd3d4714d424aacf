import type Router from '@koa/router';
import type { Context, Next } from 'koa';
import { hasRole } from '../../admins/admins.service.js';
import { authenticatePersonalToken, PERSONAL_TOKEN_PREFIX, type PersonalGrant } from '../../admins/personalTokens.service.js';
import type { Context as SluiceContext } from '../../context.js';
import { SluiceError } from '../../errors.js';
import { getFeed } from '../../feeds/feeds.service.js';
import { approveRun, assertWorkAction, cancelRun, reapplyRun, revalidateRun } from '../../runs/runActions.js';
import { requestRunWork } from '../../runs/runRequests.js';
import { presentRun } from '../../runs/runs.presenter.js';
import { getRun, type Run } from '../../runs/runs.service.js';
import type { BackgroundWork } from '../backgroundWork.js';
import { presentedKey } from './auth.js';
import { runUrl } from './runs.js';

const actions: Record<string, (sluice: SluiceContext, id: number, actor: string, unsafe: boolean) => Promise<Run>> = {
  apply: (sluice, id, actor) => approveRun(sluice, id, actor),
  cancel: (sluice, id, actor, unsafe) => cancelRun(sluice, id, { actor, unsafe }),
  reapply: (sluice, id, actor) => reapplyRun(sluice, id, actor),
  revalidate: (sluice, id, actor) => revalidateRun(sluice, id, actor),
};

/**
 * Only a person's token carries a role: a source's key could otherwise approve its own run, and
 * an application token reads the directory, it does not steer runs. Viewers may not act.
 */
export function requirePersonalToken(sluice: SluiceContext) {
  return async (ctx: Context, next: Next) => {
    const token = presentedKey(ctx.get('authorization') || undefined);
    if (!token) throw new SluiceError('unauthorized', 'a personal API token is required: Authorization: Bearer <token>');
    if (!token.startsWith(PERSONAL_TOKEN_PREFIX)) {
      throw new SluiceError('forbidden', "only an operator's or admin's personal API token may act on runs; a source's API key or an application token cannot");
    }
    const grant = await authenticatePersonalToken(sluice.database.knex, token);
    if (!grant) throw new SluiceError('unauthorized', 'the personal API token is not valid or was revoked');
    if (!hasRole(grant.admin, 'operator')) throw new SluiceError('forbidden', `${grant.admin.email} is a viewer; run actions need the operator role`);
    (ctx.state as { personal: PersonalGrant }).personal = grant;
    await next();
  };
}

/** `POST /api/v1/runs/:id/apply|cancel|reapply|revalidate`: the admin page's actions, for a personal token. */
export function runActionApiRoutes(router: Router, sluice: SluiceContext, background: BackgroundWork) {
  const db = sluice.database.knex;
  router.post('/api/v1/runs/:id/:action', requirePersonalToken(sluice), async (ctx) => {
    const perform = Object.hasOwn(actions, ctx.params.action!) ? actions[ctx.params.action!] : undefined;
    if (!perform) throw new SluiceError('not_found', `no run action "${ctx.params.action}"; use apply, cancel, reapply or revalidate`);
    const id = Number(ctx.params.id);
    if (!Number.isInteger(id) || !(await db('runs').where({ id }).first('id'))) throw new SluiceError('not_found', `run ${ctx.params.id} does not exist`);
    // The unsafe cancel of a run in progress is explicit, as the page's confirmation is.
    const unsafe = ctx.params.action === 'cancel' && ctx.query.unsafe === 'true';
    const { actor } = (ctx.state as { personal: PersonalGrant }).personal;
    const action = ctx.params.action!;
    if ((action === 'apply' || action === 'reapply' || action === 'revalidate') && background.executorRunning) {
      // The run's work is the executor's, as for the admin page: the request answers at once.
      const run = await getRun(db, id);
      assertWorkAction(run, action);
      await requestRunWork(sluice, { action, runId: id, feedId: run.feedId, actor });
      ctx.status = 202;
      ctx.body = { ...(await presentRun(db, run, await getFeed(db, run.feedId))), statusUrl: runUrl(sluice, run.id) };
      return;
    }
    const outcome = await background.start(`${ctx.params.action} run ${id} (API)`, () => perform(sluice, id, actor, unsafe));
    const run = outcome.pending ? await getRun(db, id) : outcome.value;
    ctx.status = outcome.pending ? 202 : 200;
    ctx.body = { ...(await presentRun(db, run, await getFeed(db, run.feedId))), statusUrl: runUrl(sluice, run.id) };
  });
}
