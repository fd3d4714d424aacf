import type Router from '@koa/router';
import type { Context as SluiceContext } from '../../../context.js';
import { notFound } from '../../../errors.js';
import { getOutboxMail, listOutbox, type MailState } from '../../../mail/outbox.service.js';
import { idParam, need, pageParams, render } from '../http.js';

const MAIL_PER_PAGE = 100;
const states: MailState[] = ['pending', 'sent', 'failed', 'skipped'];

/** The outbox, newest first: what was sent, and what waits for the SMTP server and why. */
export function mailRoutes(router: Router, sluice: SluiceContext) {
  router.get('/mail', need('admin'), async (ctx) => {
    const state = states.find((s) => s === ctx.query.state);
    const { page, limit, offset } = pageParams(ctx, MAIL_PER_PAGE);
    const mails = await listOutbox(sluice.database.knex, { state, limit: limit + 1, offset });
    const query = (p: number) => `/admin/mail?${new URLSearchParams({ ...(state && { state }), page: String(p) }).toString()}`;
    render(ctx, 'mail', {
      title: 'Mail',
      mails: mails.slice(0, limit).map((m) => ({ ...m, to: m.to.join(', ') })),
      states: states.map((s) => ({ name: s, selected: s === state })),
      smtp: sluice.config.mail.smtpUrl ? 'SMTP' : `.eml files under ${sluice.config.dataDir}/mail/ (no SMTP_URL set)`,
      previous: page > 1 ? query(page - 1) : null,
      next: mails.length > limit ? query(page + 1) : null,
    });
  });

  // One message as it was (or will be) sent: the text part, and what is attached.
  router.get('/mail/:id', need('admin'), async (ctx) => {
    const mail = await getOutboxMail(sluice.database.knex, idParam(ctx, 'message'));
    if (!mail) throw notFound('message', String(ctx.params.id));
    render(ctx, 'mailMessage', {
      title: `Mail: ${mail.subject}`,
      mail: { ...mail, to: mail.to.join(', '), attachments: mail.attachments.map((a) => ({ name: a.filename, bytes: Buffer.byteLength(a.content) })) },
    });
  });
}
