import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import nodemailer, { type SendMailOptions } from 'nodemailer';
import type { Context } from '../context.js';
import { redact } from '../config.js';
import { listFeeds } from '../feeds/feeds.service.js';
import { log } from '../log.js';
import { faultPoint } from '../pipeline/faults.js';
import { claimDueMail, invitationsSentSince, markAttemptFailed, markSent, type OutboxMail } from './outbox.service.js';

const BATCH = 50;

export interface MailTransport {
  /** Resolves once the server accepted the message (or the `.eml` file is on disk). */
  send(mail: OutboxMail): Promise<void>;
  close(): void;
}

const message = (ctx: Context, mail: OutboxMail): SendMailOptions => ({
  from: ctx.config.mail.from,
  to: mail.to,
  subject: mail.subject,
  text: mail.text,
  ...(mail.html && { html: mail.html }),
  messageId: mail.messageId,
  attachments: mail.attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, content: a.content })),
  headers: { 'X-Sluice-Kind': mail.kind, ...(mail.runId !== null && { 'X-Sluice-Run': String(mail.runId) }) },
});

/** SMTP when `SMTP_URL` is set; otherwise each message becomes an `.eml` file under `<data>/mail/`. */
export function openMailTransport(ctx: Context): MailTransport {
  const { smtpUrl } = ctx.config.mail;
  if (smtpUrl) {
    // The URL's own query (e.g. ?tls.rejectUnauthorized=false) wins over these defaults.
    const transport = nodemailer.createTransport({ url: smtpUrl, connectionTimeout: 15_000, greetingTimeout: 15_000, socketTimeout: 60_000 } as never);
    return {
      async send(mail) {
        await transport.sendMail(message(ctx, mail));
      },
      close: () => transport.close(),
    };
  }
  const folder = join(ctx.config.dataDir, 'mail');
  const composer = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  return {
    async send(mail) {
      const info = (await composer.sendMail(message(ctx, mail))) as { message: Buffer };
      await mkdir(folder, { recursive: true });
      const path = join(folder, `${String(mail.id).padStart(8, '0')}-${mail.kind}.eml`);
      await writeFile(`${path}.tmp`, info.message);
      await rename(`${path}.tmp`, path);
    },
    close: () => composer.close(),
  };
}

/** SMTP replies 5xx are refusals that will not change by waiting; everything else may. */
const isPermanent = (error: unknown) => {
  const code = Number((error as { responseCode?: number })?.responseCode);
  return code >= 500 && code < 600;
};

/**
 * Sends what is due: reports and digests first, then invitations within each feed's hourly
 * limit. A message is marked sent only after the server accepted it; if the process dies in
 * between, the claim expires and the message goes again with the same Message-ID.
 */
export async function sendDueMail(ctx: Context, transport: MailTransport, now = new Date()): Promise<{ sent: number; failed: number }> {
  const db = ctx.database.knex;
  const outcome = { sent: 0, failed: 0 };
  const sendAll = async (mails: OutboxMail[]) => {
    for (const mail of mails) {
      try {
        await transport.send(mail);
      } catch (error) {
        outcome.failed++;
        const text = redact(String((error as Error)?.message ?? error));
        log.warn('mail not sent; will try again', { mail: mail.id, kind: mail.kind, attempt: mail.attempts + 1, error: text });
        await markAttemptFailed(db, mail, text, isPermanent(error), now);
        continue;
      }
      await faultPoint('mail:after-accept');
      await markSent(db, mail.id, now);
      outcome.sent++;
    }
  };
  await sendAll(await claimDueMail(ctx, now, BATCH, { notKind: 'invitation' }));
  for (const feed of await listFeeds(db)) {
    const budget = feed.settings.invitationsPerHour - (await invitationsSentSince(db, feed.id, new Date(now.getTime() - 3_600_000)));
    if (budget > 0) await sendAll(await claimDueMail(ctx, now, Math.min(budget, BATCH), { kind: 'invitation', feedId: feed.id }));
  }
  return outcome;
}
