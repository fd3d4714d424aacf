import Router from '@koa/router';
import Koa from 'koa';
import type { Context as SluiceContext } from '../context.js';
import { appChangeRoutes, appUserRoutes } from './api/appUsers.js';
import { directoryRoutes } from './api/directory.js';
import { openApiDocument } from './api/openapi.js';
import { pullRoutes } from './api/pulls.js';
import { runActionApiRoutes } from './api/runActions.js';
import { runRoutes } from './api/runs.js';
import { uploadRoutes, type UploadLimits } from './api/uploads.js';
import { adminPages } from './admin/index.js';
import type { BackgroundWork } from './backgroundWork.js';
import { errorHandler } from './errorHandler.js';
import { renderMetrics } from './metrics.js';

/** The HTTP side of Sluice: the admin pages, the upload API, health and metrics. Routes only translate. */
export function createApp(sluice: SluiceContext, limits: UploadLimits, background: BackgroundWork): Koa {
  // Behind a proxy the client's address is the last one it added to X-Forwarded-For: whatever
  // stands before it came from the client, and would let one client pass for many.
  const app = new Koa({ proxy: sluice.config.trustProxy, maxIpsCount: 1 });
  const router = new Router();
  router.get('/', (ctx) => ctx.redirect('/admin'));
  // The browser asks for /favicon.ico on every page; an SVG is accepted under that name too.
  router.get(['/favicon.ico', '/favicon.svg'], (ctx) => {
    ctx.type = 'image/svg+xml';
    ctx.set('Cache-Control', 'public, max-age=86400');
    ctx.body = favicon;
  });
  router.get('/healthz', async (ctx) => {
    await sluice.database.knex.raw('SELECT 1');
    ctx.body = { status: 'ok' };
  });
  router.get('/metrics', async (ctx) => {
    ctx.type = 'text/plain; version=0.0.4';
    ctx.body = await renderMetrics(sluice);
  });
  router.get('/api/v1/openapi.json', (ctx) => {
    ctx.body = openApiDocument(sluice.config.publicUrl);
  });
  uploadRoutes(router, sluice, limits);
  runRoutes(router, sluice);
  runActionApiRoutes(router, sluice, background);
  pullRoutes(router, sluice, background);
  directoryRoutes(router, sluice);
  appUserRoutes(router, sluice);
  appChangeRoutes(router, sluice);
  // Only the upload route decides late when to let the body come (after the key and the name).
  app.use(async (ctx, next) => {
    if (/100-continue/i.test(ctx.get('expect')) && !(ctx.method === 'PUT' && ctx.path.startsWith('/api/v1/feeds/'))) ctx.res.writeContinue();
    await next();
  });
  app.use(adminPages(sluice, background));
  app.use(errorHandler);
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}

/** A sluice gate: the brand's dark blue with the accent's water line. */
const favicon = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#14263b"/><rect x="7" y="6" width="18" height="12" fill="#fff"/><path d="M4 23c4-3 8 3 12 0s8 3 12 0v5H4z" fill="#4a9be8"/></svg>`;
