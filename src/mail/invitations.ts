import type { Context } from '../context.js';
import { fieldOfColumn, profileColumns } from '../directory/userColumns.js';
import type { Feed } from '../feeds/feeds.service.js';
import type { Run } from '../runs/runs.service.js';
import { handlebars } from '../templates.js';
import { mailTemplates } from './mailTemplates.js';
import { enqueueMail, type NewMail } from './outbox.service.js';

const PAGE = 500;

/** The text as HTML paragraphs; every value is escaped by the template. */
const paragraphs = (text: string) => text.split(/\n\s*\n/).map((p) => ({ lines: p.split('\n') }));

/**
 * One invitation for each user an applied run created — not for reactivated users, and not for
 * re-applies, which restore a snapshot rather than bring in new people. The outbox keeps one
 * invitation per user of a feed, ever: a user deleted and created again is not invited twice.
 */
export async function enqueueInvitations(ctx: Context, run: Run, feed: Feed, now = new Date()): Promise<void> {
  const { invitations, invitationBody, invitationSubject, profileEditUrl } = feed.settings;
  if (!invitations || !invitationBody || run.reapplyOf !== null) return;
  const subject = handlebars.compile(invitationSubject, { noEscape: true });
  const body = handlebars.compile(invitationBody, { noEscape: true });
  const db = ctx.database.knex;
  let after = 0;
  for (;;) {
    // The directory's current values: an invitation greets the user as the run left them.
    const rows = (await db('directory_changes as c')
      .join('directory_users as u', function () {
        this.on('u.feed_id', '=', 'c.feed_id').andOn('u.user_key', '=', 'c.entity_key');
      })
      .where({ 'c.run_id': run.id, 'c.entity': 'user', 'c.operation': 'create' })
      .where('c.seq', '>', after)
      .orderBy('c.seq')
      .limit(PAGE)
      .select('c.seq', 'u.user_key', 'u.custom', ...profileColumns.map((c) => `u.${c}`))) as Record<string, unknown>[];
    const mails: NewMail[] = [];
    for (const row of rows) {
      if (!row.email) continue;
      const fields: Record<string, unknown> = { profileEditUrl, custom: JSON.parse(String(row.custom ?? '{}')) };
      for (const column of profileColumns) fields[fieldOfColumn[column]!] = row[column];
      const text = body(fields);
      mails.push({
        dedupeKey: `invitation:${feed.id}:${String(row.user_key)}`,
        kind: 'invitation',
        feedId: feed.id,
        runId: run.id,
        to: [String(row.email)],
        subject: subject(fields).trim(),
        text,
        html: mailTemplates.get('invitation.html')!({ paragraphs: paragraphs(text) }),
      });
    }
    await enqueueMail(ctx, db, mails, now);
    if (rows.length < PAGE) return;
    after = Number(rows[rows.length - 1]!.seq);
  }
}
