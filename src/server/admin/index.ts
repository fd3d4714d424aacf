import Router from '@koa/router';
import type { Context, Middleware, Next } from 'koa';
import { findSession } from '../../admins/sessions.service.js';
import type { Context as SluiceContext } from '../../context.js';
import type { BackgroundWork } from '../backgroundWork.js';
import { SluiceError } from '../../errors.js';
import { log } from '../../log.js';
import { render, SESSION_COOKIE, stateOf } from './http.js';
import { accountRoutes } from './routes/accounts.js';
import { appTokenRoutes } from './routes/appTokens.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { directoryRoutes } from './routes/directory.js';
import { feedRoutes } from './routes/feeds.js';
import { mailRoutes } from './routes/mail.js';
import { personalTokenRoutes } from './routes/personalTokens.js';
import { runActionRoutes } from './routes/runActions.js';
import { runRoutes } from './routes/runs.js';
import { signInRoutes } from './routes/signIn.js';
import { stylesheet } from './views.js';

const statusOf: Partial<Record<SluiceError['code'], number>> = {
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  invalid_state: 409,
  conflict: 409,
  usage: 400,
  invalid_setting: 400,
  too_large: 413,
  too_many_attempts: 429,
};

const titleOf: Record<number, string> = { 401: 'Signed out', 403: 'Not allowed', 404: 'Not found' };

/** Errors on admin pages are pages too, with the same stable codes as the API. */
async function errorPages(ctx: Context, next: Next) {
  try {
    await next();
    if (ctx.status === 404 && ctx.body === undefined) render(ctx, 'error', { title: 'Not found', message: `There is no page at ${ctx.path}.` }, 404);
  } catch (error) {
    const known = error instanceof SluiceError;
    if (!known) log.error('admin request failed', { method: ctx.method, path: ctx.path, error: String((error as Error)?.stack ?? error) });
    const status = known ? (statusOf[error.code] ?? 500) : 500;
    render(ctx, 'error', { title: titleOf[status] ?? 'Something went wrong', message: known ? error.message : 'Internal error; see the server log.', code: known ? error.code : 'internal', signIn: status === 401 }, status);
  }
}

/** Admin pages must not be framed, cached or fed scripts from elsewhere. */
async function securityHeaders(ctx: Context, next: Next) {
  ctx.set('Content-Security-Policy', "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Referrer-Policy', 'same-origin');
  ctx.set('Cache-Control', 'no-store');
  await next();
}

/** The admin web page under `/admin`: server-rendered, usable without JavaScript. */
export function adminPages(sluice: SluiceContext, background: BackgroundWork): Middleware {
  const router = new Router({ prefix: '/admin' });
  router.get('/assets/admin.css', (ctx) => {
    ctx.type = 'text/css';
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = stylesheet;
  });
  signInRoutes(router, sluice);
  dashboardRoutes(router, sluice);
  runRoutes(router, sluice);
  runActionRoutes(router, sluice, background);
  feedRoutes(router, sluice, background);
  directoryRoutes(router, sluice);
  accountRoutes(router, sluice);
  mailRoutes(router, sluice);
  appTokenRoutes(router, sluice);
  personalTokenRoutes(router, sluice);
  const routes = router.routes();
  const allowed = router.allowedMethods();

  return async (ctx, next) => {
    if (ctx.path !== '/admin' && !ctx.path.startsWith('/admin/')) return next();
    await securityHeaders(ctx, () =>
      errorPages(ctx, async () => {
        const session = await findSession(sluice.database.knex, ctx.cookies.get(SESSION_COOKIE));
        if (session) stateOf(ctx).session = session;
        // The router adds its own fields to the context as it dispatches.
        const routed = ctx as Parameters<typeof routes>[0];
        await routes(routed, () => allowed(routed as never, async () => undefined));
      }),
    );
  };
}
