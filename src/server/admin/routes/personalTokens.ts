import type Router from '@koa/router';
import type { Context } from 'koa';
import { hasRole } from '../../../admins/admins.service.js';
import { createPersonalToken, listPersonalTokens, revokePersonalToken } from '../../../admins/personalTokens.service.js';
import type { Context as SluiceContext } from '../../../context.js';
import { notFound } from '../../../errors.js';
import { flash, need, render, stateOf } from '../http.js';

/**
 * `/admin/account`: the signed-in operator's or admin's personal API tokens — create (shown once),
 * list, revoke. An admin also sees and may revoke everyone's.
 */
export function personalTokenRoutes(router: Router, sluice: SluiceContext) {
  const db = sluice.database.knex;
  const me = (ctx: Context) => stateOf(ctx).session!.admin;
  const isAdmin = (ctx: Context) => hasRole(me(ctx), 'admin');

  const page = async (ctx: Context, extra: Record<string, unknown> = {}, status = 200) => {
    const all = await listPersonalTokens(db, isAdmin(ctx) ? undefined : me(ctx).email);
    render(ctx, 'account', {
      title: 'Your account',
      tokens: all.filter((t) => t.email === me(ctx).email),
      others: isAdmin(ctx) ? all.filter((t) => t.email !== me(ctx).email) : undefined,
      ...extra,
    }, status);
  };

  router.get('/account', need('operator'), (ctx) => page(ctx));

  router.post('/account/tokens', need('operator'), async (ctx) => {
    const created = await createPersonalToken(db, me(ctx).email, { label: stateOf(ctx).form!.get('label') ?? undefined, actor: me(ctx).email });
    // Shown in this response only: it is stored hashed.
    await page(ctx, { created }, 201);
  });

  /** The token by its prefix, if this account may revoke it. */
  const revocable = async (ctx: Context) => {
    const prefix = String(ctx.params.prefix);
    const token = (await listPersonalTokens(db, isAdmin(ctx) ? undefined : me(ctx).email)).find((t) => t.prefix === prefix);
    if (!token) throw notFound('personal token', prefix);
    return token;
  };

  router.get('/account/tokens/:prefix/revoke', need('operator'), async (ctx) => {
    const token = await revocable(ctx);
    render(ctx, 'confirm', {
      title: `Revoke ${token.prefix} (${token.label})?`,
      text: `Run actions with ${token.email}'s token (last used ${token.lastUsedAt ?? 'never'}) are refused from the moment it is revoked. This cannot be undone.`,
      postTo: `/admin/account/tokens/${encodeURIComponent(token.prefix)}/revoke`,
      button: 'Revoke',
      danger: true,
      back: '/admin/account',
    });
  });

  router.post('/account/tokens/:prefix/revoke', need('operator'), async (ctx) => {
    const token = await revocable(ctx);
    await revokePersonalToken(db, token.prefix, { actor: me(ctx).email });
    flash(ctx, 'ok', `Token ${token.prefix} revoked.`);
    ctx.redirect('/admin/account');
  });
}
