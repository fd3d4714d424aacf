import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Context as SluiceContext } from '../../../context.js';
import { defaultFeedSettings, feedSettingNames, type FeedSettings } from '../../../core/feedSettings.js';
import { SluiceError } from '../../../errors.js';
import { getFeed, updateFeedSettings, type Feed } from '../../../feeds/feeds.service.js';
import { createApiKey, listApiKeys, revokeApiKey } from '../../../keys/keys.service.js';
import { flash, need, render, stateOf } from '../http.js';

type Kind = 'yesno' | 'number' | 'percent' | 'choice' | 'text' | 'longtext';
/** How each setting of PRODUCT §5 and §8 is shown: its control, and what it means. */
const settingForms: Record<keyof FeedSettings, { kind: Kind; help: string; choices?: string[] }> = {
  autoApply: { kind: 'yesno', help: 'Apply runs that trip no safety rule without waiting for an administrator.' },
  holdFirstRun: { kind: 'yesno', help: 'Hold the first run of the feed.' },
  holdOnMappingChange: { kind: 'yesno', help: "Hold a run whose control-file mapping differs from the last applied run's." },
  maxUserRemovals: { kind: 'number', help: 'Hold when more users than this would be suspended or deleted.' },
  maxUserRemovalPercent: { kind: 'percent', help: 'Hold when more than this share of the baseline would be suspended or deleted.' },
  maxUserUpdatePercent: { kind: 'percent', help: 'Hold when more than this share of the baseline would be updated.' },
  maxMembershipRemovalPercent: { kind: 'percent', help: "Hold when more than this share of the baseline's memberships would be removed." },
  minBaselineForPercent: { kind: 'number', help: 'The percentage rules apply only from this many users in the baseline.' },
  maxErrorRows: { kind: 'number', help: 'Fail the run when more rows than this have errors.' },
  maxErrorPercent: { kind: 'percent', help: 'Fail the run when more than this share of rows have errors.' },
  onMissing: { kind: 'choice', choices: ['suspend', 'keep', 'delete'], help: 'What a full run does with users missing from it.' },
  forceUpdate: { kind: 'yesno', help: 'Write every record even if unchanged (after the meaning of a mapping changed).' },
  reportOn: { kind: 'text', help: 'Run states that send a report: held, failed, applied (comma-separated).' },
  reportEmails: { kind: 'text', help: 'Who gets the reports (comma-separated email addresses).' },
  invitations: { kind: 'yesno', help: 'Send an invitation email to each user a run creates (needs invitationBody).' },
  invitationSubject: { kind: 'text', help: 'Subject of the invitation; may use the user\'s fields, e.g. {{firstName}}.' },
  invitationBody: { kind: 'longtext', help: 'Text of the invitation, with the user\'s fields: {{firstName}}, {{lastName}}, {{email}}, {{username}}, {{custom.name}}, {{profileEditUrl}}.' },
  invitationsPerHour: { kind: 'number', help: 'At most this many invitations of this feed are sent per hour; the rest wait.' },
  profileEditUrl: { kind: 'text', help: "Where people edit the fields this feed owns, in the source system (or 'none')." },
  retentionDays: { kind: 'number', help: "Days to keep runs' archived files." },
};

const textOf = (value: unknown) => (Array.isArray(value) ? value.join(', ') : value === null ? '' : String(value));

function settingsPage(ctx: Context, sluice: SluiceContext, feed: Feed, values: Record<string, string>, errors: Record<string, string> = {}, status = 200) {
  const slug = encodeURIComponent(feed.slug);
  render(
    ctx,
    'feedSettings',
    {
      title: `Settings of ${feed.slug}`,
      feed,
      settings: feedSettingNames.map((name) => {
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
      }),
      hasErrors: Object.keys(errors).length > 0,
      inbox: {
        folder: `${sluice.config.inboxDir}/${feed.slug}/`,
        s3: sluice.config.s3InboxUrl ? `${sluice.config.s3InboxUrl.replace(/\/?$/, '/')}${feed.slug}/` : null,
        http: `${sluice.config.publicUrl}/api/v1/feeds/${slug}/files/<name>`,
      },
    },
    status,
  );
}

export function feedRoutes(router: Router, sluice: SluiceContext) {
  const db = sluice.database.knex;

  router.get('/feeds/:feed/settings', need('viewer'), async (ctx) => {
    const feed = await getFeed(db, ctx.params.feed!);
    settingsPage(ctx, sluice, feed, Object.fromEntries(feedSettingNames.map((n) => [n, textOf(feed.settings[n])])));
  });

  router.post('/feeds/:feed/settings', need('admin'), async (ctx) => {
    const feed = await getFeed(db, ctx.params.feed!);
    const form = stateOf(ctx).form!;
    const values = Object.fromEntries(feedSettingNames.map((n) => [n, form.get(n) ?? textOf(feed.settings[n])]));
    try {
      await updateFeedSettings(db, feed.slug, values, stateOf(ctx).session!.admin.email);
    } catch (error) {
      if (!(error instanceof SluiceError) || error.code !== 'invalid_setting') throw error;
      return settingsPage(ctx, sluice, feed, values, (error.details.fields ?? {}) as Record<string, string>, 400);
    }
    flash(ctx, 'ok', `Settings of ${feed.slug} saved.`);
    ctx.redirect(`/admin/feeds/${encodeURIComponent(feed.slug)}/settings`);
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
    const key = (await listApiKeys(db, feed.id)).find((k) => k.id === Number(ctx.params.id));
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
