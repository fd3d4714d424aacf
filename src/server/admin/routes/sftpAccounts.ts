import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Context as SluiceContext } from '../../../context.js';
import { SluiceError } from '../../../errors.js';
import { getFeed, type Feed } from '../../../feeds/feeds.service.js';
import { addSftpAccount, listSftpAccounts, removeSftpAccount } from '../../../sftp/accounts.service.js';
import { sftpFingerprint } from '../../../sftp/startSftp.js';
import { flash, idParam, need, render, stateOf } from '../http.js';

/** What the feed page's SFTP section shows (templates/admin/partials/sftpAccounts.hbs). */
export async function sftpSection(sluice: SluiceContext, feed: Feed, created?: { username: string; password: string }) {
  return {
    port: sluice.config.sftp.port,
    host: new URL(sluice.config.publicUrl).hostname,
    fingerprint: await sftpFingerprint(sluice),
    accounts: await listSftpAccounts(sluice.database.knex, feed.id),
    created,
  };
}

/** SFTP logins on the feed page: operators and admins add and remove them. */
export function sftpAccountRoutes(router: Router, sluice: SluiceContext, showFeedPage: (ctx: Context, feed: Feed, created: { username: string; password: string }) => Promise<void>) {
  const db = sluice.database.knex;
  const page = (feed: Feed) => `/admin/feeds/${encodeURIComponent(feed.slug)}/settings`;

  router.post('/feeds/:feed/sftp', need('operator'), async (ctx) => {
    const feed = await getFeed(db, ctx.params.feed!);
    const form = stateOf(ctx).form!;
    const publicKey = form.get('publicKey')?.trim() || undefined;
    const username = form.get('username')?.trim() || undefined;
    let added;
    try {
      added = await addSftpAccount(db, feed.slug, { username, publicKey, actor: stateOf(ctx).session!.admin.email });
    } catch (error) {
      if (!(error instanceof SluiceError) || !['usage', 'conflict'].includes(error.code)) throw error;
      flash(ctx, 'error', `No SFTP login added: ${error.message}`);
      return ctx.redirect(page(feed));
    }
    // A generated password is shown in this response only: it is stored hashed.
    if (added.password) return showFeedPage(ctx, feed, { username: added.account.username, password: added.password });
    flash(ctx, 'ok', `SFTP login ${added.account.username} added (key ${added.account.keyFingerprint}).`);
    ctx.redirect(page(feed));
  });

  const feedAccount = async (ctx: Context) => {
    const feed = await getFeed(db, ctx.params.feed!);
    const id = idParam(ctx, 'SFTP login');
    const account = (await listSftpAccounts(db, feed.id)).find((a) => a.id === id);
    if (!account) throw new SluiceError('not_found', `SFTP login ${ctx.params.id} of ${feed.slug} does not exist`);
    return { feed, account };
  };

  router.get('/feeds/:feed/sftp/:id/remove', need('operator'), async (ctx) => {
    const { feed, account } = await feedAccount(ctx);
    render(ctx, 'confirm', {
      title: `Remove SFTP login ${account.username}?`,
      text: `The source system can no longer log in as ${account.username} (last login ${account.lastLoginAt ?? 'never'}); its open connections end at their next upload. This cannot be undone.`,
      postTo: `/admin/feeds/${encodeURIComponent(feed.slug)}/sftp/${account.id}/remove`,
      button: 'Remove',
      danger: true,
      back: page(feed),
    });
  });

  router.post('/feeds/:feed/sftp/:id/remove', need('operator'), async (ctx) => {
    const { feed, account } = await feedAccount(ctx);
    await removeSftpAccount(db, String(account.id), stateOf(ctx).session!.admin.email);
    flash(ctx, 'ok', `SFTP login ${account.username} removed.`);
    ctx.redirect(page(feed));
  });
}
