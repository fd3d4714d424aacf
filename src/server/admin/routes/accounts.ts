import type Router from '@koa/router';
import type { Context } from 'koa';
import { addAdmin, adminRoles, getAdmin, listAdmins, parseRole, removeAdmin } from '../../../admins/admins.service.js';
import { auditActions, listAudit } from '../../../audit/audit.service.js';
import { listFeeds } from '../../../feeds/feeds.service.js';
import type { Context as SluiceContext } from '../../../context.js';
import { SluiceError } from '../../../errors.js';
import { flash, idParam, need, pageParams, pager, render, stateOf } from '../http.js';

const AUDIT_PER_PAGE = 100;

export function accountRoutes(router: Router, sluice: SluiceContext) {
  const db = sluice.database.knex;

  router.get('/audit', need('admin'), async (ctx) => {
    const { page, limit, offset } = pageParams(ctx, AUDIT_PER_PAGE);
    const text = (name: string) => (typeof ctx.query[name] === 'string' ? (ctx.query[name] as string).trim().slice(0, 320) : '');
    const [feeds, actions] = await Promise.all([listFeeds(db), auditActions(db)]);
    const feed = feeds.find((f) => f.slug === ctx.query.feed);
    const action = actions.find((a) => a === ctx.query.action);
    const { entries, total } = await listAudit(db, { limit, offset }, { actor: text('actor') || undefined, action, feed });
    render(ctx, 'audit', {
      title: 'Audit log',
      actor: text('actor'),
      feeds: feeds.map((f) => ({ slug: f.slug, selected: f.id === feed?.id })),
      actions: actions.map((a) => ({ name: a, selected: a === action })),
      filtered: Boolean(text('actor') || action || feed),
      entries: entries.map((e) => ({ ...e, details: e.details ? JSON.stringify(e.details) : '' })),
      pager: pager(ctx, page, AUDIT_PER_PAGE, total),
    });
  });

  const accountsPage = async (ctx: Context, extra: Record<string, unknown> = {}, status = 200) =>
    render(ctx, 'accounts', { title: 'Admin accounts', accounts: await listAdmins(db), roles: adminRoles, ...extra }, status);

  router.get('/accounts', need('admin'), (ctx) => accountsPage(ctx));

  router.post('/accounts', need('admin'), async (ctx) => {
    const form = stateOf(ctx).form!;
    try {
      const { admin, password } = await addAdmin(db, { email: form.get('email') ?? '', role: parseRole(form.get('role') ?? ''), actor: stateOf(ctx).session!.admin.email });
      // The generated password is shown in this response only.
      await accountsPage(ctx, { created: { admin, password } }, 201);
    } catch (error) {
      if (!(error instanceof SluiceError) || !['invalid_setting', 'conflict'].includes(error.code)) throw error;
      await accountsPage(ctx, { error: error.message, email: form.get('email') }, 400);
    }
  });

  router.get('/accounts/:id/remove', need('admin'), async (ctx) => {
    const admin = await getAdmin(db, idParam(ctx, 'admin account'));
    render(ctx, 'confirm', {
      title: `Remove ${admin.email}?`,
      text: `${admin.email} (${admin.role}) can no longer sign in, and their open sessions end now. The audit log keeps what they did.`,
      postTo: `/admin/accounts/${admin.id}/remove`,
      button: 'Remove account',
      danger: true,
      back: '/admin/accounts',
    });
  });

  router.post('/accounts/:id/remove', need('admin'), async (ctx) => {
    const admin = await getAdmin(db, idParam(ctx, 'admin account'));
    try {
      await removeAdmin(db, admin.email, stateOf(ctx).session!.admin.email);
      flash(ctx, 'ok', `${admin.email} removed.`);
    } catch (error) {
      if (!(error instanceof SluiceError) || error.code !== 'conflict') throw error;
      flash(ctx, 'error', error.message);
    }
    ctx.redirect('/admin/accounts');
  });
}
