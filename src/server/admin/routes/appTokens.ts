import type Router from '@koa/router';
import type { Context } from 'koa';
import { createAppToken, getAppToken, listAppTokens, revokeAppToken } from '../../../apps/appTokens.service.js';
import type { Context as SluiceContext } from '../../../context.js';
import { SluiceError } from '../../../errors.js';
import { listFeeds } from '../../../feeds/feeds.service.js';
import { flash, idParam, need, render, stateOf } from '../http.js';

/** `/admin/app-tokens`: the applications' tokens — create (shown once), list with last use, revoke. */
export function appTokenRoutes(router: Router, sluice: SluiceContext) {
  const db = sluice.database.knex;
  const page = async (ctx: Context, extra: Record<string, unknown> = {}, status = 200) =>
    render(ctx, 'appTokens', { title: 'Application tokens', tokens: await listAppTokens(db), feeds: (await listFeeds(db)).map((f) => f.slug), ...extra }, status);

  router.get('/app-tokens', need('admin'), (ctx) => page(ctx));

  router.post('/app-tokens', need('admin'), async (ctx) => {
    const form = stateOf(ctx).form!;
    const spec = { name: form.get('name') ?? '', feeds: (form.get('feeds') ?? '').split(',').map((s) => s.trim()).filter(Boolean), scope: form.get('scope') ?? 'read' };
    try {
      const created = await createAppToken(db, spec, stateOf(ctx).session!.admin.email);
      // Shown in this response only: it is stored hashed.
      await page(ctx, { created }, 201);
    } catch (error) {
      if (!(error instanceof SluiceError) || !['usage', 'not_found'].includes(error.code)) throw error;
      await page(ctx, { error: error.message, form: { ...spec, feeds: spec.feeds.join(', ') } }, 400);
    }
  });

  router.get('/app-tokens/:id/revoke', need('admin'), async (ctx) => {
    const token = await getAppToken(db, idParam(ctx, 'application token'));
    render(ctx, 'confirm', {
      title: `Revoke ${token.name} (${token.prefix})?`,
      text: `Requests with this token (feeds ${token.feeds.join(', ')}, ${token.scope}, last used ${token.lastUsedAt ?? 'never'}) are refused from the moment it is revoked. This cannot be undone.`,
      postTo: `/admin/app-tokens/${token.id}/revoke`,
      button: 'Revoke',
      danger: true,
      back: '/admin/app-tokens',
    });
  });

  router.post('/app-tokens/:id/revoke', need('admin'), async (ctx) => {
    const token = await revokeAppToken(db, String(idParam(ctx, 'application token')), stateOf(ctx).session!.admin.email);
    flash(ctx, 'ok', `Token ${token.prefix} revoked.`);
    ctx.redirect('/admin/app-tokens');
  });
}
