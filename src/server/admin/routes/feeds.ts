import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Context as SluiceContext } from '../../../context.js';
import { defaultFeedSettings, feedSettingNames, pullSecretNames } from '../../../core/feedSettings.js';
import { SluiceError } from '../../../errors.js';
import { getFeed, updateFeedSettings, type Feed } from '../../../feeds/feeds.service.js';
import { createApiKey, listApiKeys, revokeApiKey } from '../../../keys/keys.service.js';
import { feedSecretNames, setFeedSecret } from '../../../feeds/feedSecrets.js';
import { startSyncNow, syncNow } from '../../../pull/pullFeed.js';
import { requestRunWork } from '../../../runs/runRequests.js';
import type { BackgroundWork } from '../../backgroundWork.js';
import { flash, idParam, need, render, stateOf } from '../http.js';
import { secretHelp, settingForms, settingGroups, textOf } from '../settingForms.js';
import { notifiesNobodyOfHolds } from './dashboard.js';
import { sftpAccountRoutes, sftpSection } from './sftpAccounts.js';

async function settingsPage(ctx: Context, sluice: SluiceContext, feed: Feed, values: Record<string, string>, errors: Record<string, string> = {}, status = 200, sftpCreated?: { username: string; password: string }) {
  const slug = encodeURIComponent(feed.slug);
  const secrets = await feedSecretNames(sluice, feed.id);
  const field = (name: (typeof feedSettingNames)[number]) => {
    const form = settingForms[name];
    return {
      name,
      ...form,
      value: values[name],
      isYesNo: form.kind === 'yesno',
      isChoice: form.kind === 'choice',
      isLongText: form.kind === 'longtext',
      options: (form.kind === 'yesno' ? ['true', 'false'] : (form.choices ?? [])).map((o) => ({ value: o, label: form.kind === 'yesno' ? (o === 'true' ? 'yes' : 'no') : o, selected: o === values[name] })),
      defaultValue: textOf(defaultFeedSettings[name]),
      error: errors[name],
    };
  };
  render(
    ctx,
    'feedSettings',
    {
      title: `Settings of ${feed.slug}`,
      feed,
      groups: settingGroups.map((group) => ({
        ...group,
        settings: feedSettingNames.filter((n) => settingForms[n].group === group.id).map(field),
        secrets: group.id === 'pull' ? pullSecretNames.map((name) => ({ name, help: secretHelp[name], set: secrets.includes(name), error: errors[name] })) : [],
      })),
      hasErrors: Object.keys(errors).length > 0,
      notifiesNobody: notifiesNobodyOfHolds(feed),
      canPull: Boolean(feed.settings.pullUrl && feed.controlFile),
      secretsUsable: Boolean(sluice.config.secretKey),
      inbox: {
        folder: `${sluice.config.inboxDir}/${feed.slug}/`,
        s3: sluice.config.s3InboxUrl ? `${sluice.config.s3InboxUrl.replace(/\/?$/, '/')}${feed.slug}/` : null,
        http: `${sluice.config.publicUrl}/api/v1/feeds/${slug}/files/<name>`,
      },
      sftp: await sftpSection(sluice, feed, sftpCreated),
    },
    status,
  );
}

export function feedRoutes(router: Router, sluice: SluiceContext, background: BackgroundWork) {
  const db = sluice.database.knex;
  const currentValues = (feed: Feed) => Object.fromEntries(feedSettingNames.map((n) => [n, textOf(feed.settings[n])]));
  sftpAccountRoutes(router, sluice, (ctx, feed, created) => settingsPage(ctx, sluice, feed, currentValues(feed), {}, 201, created));

  router.get('/feeds/:feed/settings', need('viewer'), async (ctx) => {
    const feed = await getFeed(db, ctx.params.feed!);
    await settingsPage(ctx, sluice, feed, Object.fromEntries(feedSettingNames.map((n) => [n, textOf(feed.settings[n])])));
  });

  router.post('/feeds/:feed/settings', need('admin'), async (ctx) => {
    const feed = await getFeed(db, ctx.params.feed!);
    const form = stateOf(ctx).form!;
    const values = Object.fromEntries(feedSettingNames.map((n) => [n, form.get(n) ?? textOf(feed.settings[n])]));
    const actor = stateOf(ctx).session!.admin.email;
    // Secret fields are never filled in: an empty one leaves the stored secret as it is.
    const secrets = pullSecretNames.filter((name) => form.get(name));
    try {
      if (secrets.length && !sluice.config.secretKey) throw new SluiceError('invalid_setting', 'secrets need SLUICE_SECRET_KEY', { fields: Object.fromEntries(secrets.map((n) => [n, 'Sluice stores secrets encrypted: set SLUICE_SECRET_KEY on the server first'])) });
      await updateFeedSettings(db, feed.slug, values, actor);
      for (const name of secrets) await setFeedSecret(sluice, feed.slug, name, form.get(name)!, actor);
    } catch (error) {
      if (!(error instanceof SluiceError) || error.code !== 'invalid_setting') throw error;
      return settingsPage(ctx, sluice, feed, values, (error.details.fields ?? {}) as Record<string, string>, 400);
    }
    flash(ctx, 'ok', `Settings of ${feed.slug} saved.`);
    ctx.redirect(`/admin/feeds/${encodeURIComponent(feed.slug)}/settings`);
  });

  router.post('/feeds/:feed/sync', need('operator'), async (ctx) => {
    const feed = await getFeed(db, ctx.params.feed!);
    const run = await startSyncNow(sluice, feed, stateOf(ctx).session!.admin.email);
    if (background.executorRunning) {
      await requestRunWork(sluice, { action: 'sync', runId: run.id, feedId: feed.id, actor: stateOf(ctx).session!.admin.email });
      flash(ctx, 'ok', `Sync now: pulling into run ${run.id}; this page follows it.`);
      return ctx.redirect(`/admin/runs/${run.id}`);
    }
    const outcome = await background.start(`sync run ${run.id}`, () => syncNow(sluice, feed.id, run));
    flash(ctx, 'ok', outcome.pending ? `Sync now: pulling into run ${run.id}; this page follows it.` : `Sync now: run ${run.id} pulled.`);
    ctx.redirect(`/admin/runs/${run.id}`);
  });

  router.get('/feeds/:feed/keys', need('admin'), async (ctx) => {
    const feed = await getFeed(db, ctx.params.feed!);
    render(ctx, 'keys', { title: `API keys of ${feed.slug}`, feed, keys: await listApiKeys(db, feed.id) });
  });

  router.post('/feeds/:feed/keys', need('admin'), async (ctx) => {
    const feed = await getFeed(db, ctx.params.feed!);
    const label = stateOf(ctx).form!.get('label')?.trim().slice(0, 255) || undefined;
    const { key, apiKey } = await createApiKey(db, feed.slug, label, stateOf(ctx).session!.admin.email);
    // Shown in this response only: it is stored hashed, so it cannot be shown again.
    render(ctx, 'keys', { title: `API keys of ${feed.slug}`, feed, keys: await listApiKeys(db, feed.id), created: { key, apiKey } }, 201);
  });

  const feedKey = async (ctx: Context) => {
    const feed = await getFeed(db, ctx.params.feed!);
    const id = idParam(ctx, 'API key');
    const key = (await listApiKeys(db, feed.id)).find((k) => k.id === id);
    if (!key) throw new SluiceError('not_found', `API key ${ctx.params.id} of ${feed.slug} does not exist`);
    return { feed, key };
  };

  router.get('/feeds/:feed/keys/:id/revoke', need('admin'), async (ctx) => {
    const { feed, key } = await feedKey(ctx);
    render(ctx, 'confirm', {
      title: `Revoke key ${key.prefix}?`,
      text: `Uploads to ${feed.slug} with this key (${key.label ?? 'no label'}, last used ${key.lastUsedAt ?? 'never'}) are refused from the moment it is revoked. This cannot be undone.`,
      postTo: `/admin/feeds/${encodeURIComponent(feed.slug)}/keys/${key.id}/revoke`,
      button: 'Revoke',
      danger: true,
      back: `/admin/feeds/${encodeURIComponent(feed.slug)}/keys`,
    });
  });

  router.post('/feeds/:feed/keys/:id/revoke', need('admin'), async (ctx) => {
    const { feed, key } = await feedKey(ctx);
    await revokeApiKey(db, String(key.id), stateOf(ctx).session!.admin.email);
    flash(ctx, 'ok', `Key ${key.prefix} revoked; uploads with it are refused from now on.`);
    ctx.redirect(`/admin/feeds/${encodeURIComponent(feed.slug)}/keys`);
  });
}
