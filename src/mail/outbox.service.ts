import { randomUUID } from 'node:crypto';
import type { Context } from '../context.js';
import { countRows } from '../storage/database.js';
import { fromDbTime, toDbTime, type Db } from '../storage/dialect.js';
import { announce } from '../pipeline/wakeUp.js';

export type MailKind = 'report' | 'invitation' | 'digest';
export type MailState = 'pending' | 'sent' | 'failed' | 'skipped';

export interface Attachment {
  filename: string;
  contentType: string;
  content: string;
}

export interface NewMail {
  /** Enqueueing the same key twice keeps the first: one report per run and state, one invitation per user. */
  dedupeKey: string;
  kind: MailKind;
  feedId?: number;
  runId?: number;
  to: string[];
  subject: string;
  text: string;
  html?: string;
  attachments?: Attachment[];
}

export interface OutboxMail extends Required<Pick<NewMail, 'kind' | 'to' | 'subject' | 'text' | 'attachments'>> {
  id: number;
  messageId: string;
  feedId: number | null;
  runId: number | null;
  html: string | null;
  state: MailState;
  attempts: number;
  nextAttemptAt: string;
  lastError: string | null;
  createdAt: string;
  sentAt: string | null;
}

/* eslint-disable @typescript-eslint/no-explicit-any */
const fromRow = (r: any): OutboxMail => ({
  id: Number(r.id),
  messageId: r.message_id,
  kind: r.kind,
  feedId: r.feed_id === null ? null : Number(r.feed_id),
  runId: r.run_id === null ? null : Number(r.run_id),
  to: JSON.parse(r.recipients),
  subject: r.subject,
  text: r.text_body,
  html: r.html_body,
  attachments: r.attachments ? JSON.parse(r.attachments) : [],
  state: r.state,
  attempts: Number(r.attempts),
  nextAttemptAt: fromDbTime(r.next_attempt_at)!,
  lastError: r.last_error,
  createdAt: fromDbTime(r.created_at)!,
  sentAt: fromDbTime(r.sent_at),
});

/** The host part of Message-IDs: the public URL's, so they are unique to this installation. */
const messageHost = (ctx: Context) => {
  try {
    return new URL(ctx.config.publicUrl).hostname || 'sluice.invalid';
  } catch {
    return 'sluice.invalid';
  }
};

export const outboxRow = (ctx: Context, mail: NewMail, now = new Date()) => ({
  dedupe_key: mail.dedupeKey.slice(0, 420),
  // Fixed now: every attempt to send this mail, even after a crash, carries the same Message-ID.
  message_id: `<${randomUUID()}@${messageHost(ctx)}>`,
  kind: mail.kind,
  feed_id: mail.feedId ?? null,
  run_id: mail.runId ?? null,
  recipients: JSON.stringify(mail.to),
  subject: mail.subject,
  text_body: mail.text,
  html_body: mail.html ?? null,
  attachments: mail.attachments?.length ? JSON.stringify(mail.attachments) : null,
  state: 'pending',
  attempts: 0,
  next_attempt_at: toDbTime(now),
  created_at: toDbTime(now),
});

/** Adds mail to the outbox; a key already there is left as it is. */
export async function enqueueMail(ctx: Context, db: Db, mails: NewMail[], now = new Date()): Promise<void> {
  for (let i = 0; i < mails.length; i += 200) {
    await db('mail_outbox').insert(mails.slice(i, i + 200).map((m) => outboxRow(ctx, m, now))).onConflict('dedupe_key').ignore();
  }
  if (mails.length > 0) announce('mail-queued');
}

export async function getOutboxMail(db: Db, id: number): Promise<OutboxMail | null> {
  const row = await db('mail_outbox').where({ id }).first();
  return row ? fromRow(row) : null;
}

export async function listOutbox(db: Db, filter: { kind?: MailKind; state?: MailState; runId?: number; limit?: number; offset?: number } = {}) {
  const query = db('mail_outbox').orderBy('id', 'desc').limit(filter.limit ?? 100).offset(filter.offset ?? 0);
  if (filter.kind) query.where({ kind: filter.kind });
  if (filter.state) query.where({ state: filter.state });
  if (filter.runId !== undefined) query.where({ run_id: filter.runId });
  return (await query).map(fromRow);
}

/**
 * Claims up to `limit` due messages for this process until `until`. A claim is a conditional
 * update, so two processes never send the same message at once; a claim left by a process that
 * died expires and the message is sent again — with the same Message-ID.
 */
export async function claimDueMail(ctx: Context, now: Date, limit: number, filter: { kind?: MailKind; feedId?: number; notKind?: MailKind } = {}): Promise<OutboxMail[]> {
  const db = ctx.database.knex;
  const nowText = toDbTime(now);
  const query = db('mail_outbox')
    .where({ state: 'pending' })
    .where('next_attempt_at', '<=', nowText)
    .where((q) => q.whereNull('claimed_until').orWhere('claimed_until', '<', nowText))
    .orderBy('id')
    .limit(limit);
  if (filter.kind) query.where({ kind: filter.kind });
  if (filter.notKind) query.whereNot({ kind: filter.notKind });
  if (filter.feedId !== undefined) query.where({ feed_id: filter.feedId });
  const ids = ((await query.pluck('id')) as number[]).map(Number);
  const until = toDbTime(new Date(now.getTime() + ctx.leaseSeconds * 1000));
  const claimed: OutboxMail[] = [];
  for (const id of ids) {
    const won = await db('mail_outbox')
      .where({ id, state: 'pending' })
      .where((q) => q.whereNull('claimed_until').orWhere('claimed_until', '<', nowText))
      .update({ claimed_by: ctx.workerId, claimed_until: until });
    if (won === 1) claimed.push(fromRow(await db('mail_outbox').where({ id }).first()));
  }
  return claimed;
}

export async function markSent(db: Db, id: number, now = new Date()) {
  await db('mail_outbox').where({ id }).update({ state: 'sent', sent_at: toDbTime(now), claimed_by: null, claimed_until: null, last_error: null });
}

export async function markSkipped(db: Db, id: number, reason: string) {
  await db('mail_outbox').where({ id }).update({ state: 'skipped', last_error: reason, claimed_by: null, claimed_until: null });
}

/**
 * A failed attempt: tried again after 30 s, 1 min, 2 min, … up to an hour between attempts, for
 * as long as the server is down or refuses for now. A permanent refusal (5xx) gives up after 10.
 */
export async function markAttemptFailed(db: Db, mail: OutboxMail, error: string, permanent: boolean, now = new Date()) {
  const attempts = mail.attempts + 1;
  const giveUp = permanent && attempts >= 10;
  const delayMs = Math.min(30_000 * 2 ** (attempts - 1), 3_600_000);
  await db('mail_outbox')
    .where({ id: mail.id })
    .update({
      attempts,
      state: giveUp ? 'failed' : 'pending',
      last_error: error.slice(0, 2000),
      next_attempt_at: toDbTime(new Date(now.getTime() + delayMs)),
      claimed_by: null,
      claimed_until: null,
    });
}

/** Invitations of a feed sent in the hour before `now`, for the feed's hourly limit. */
export async function invitationsSentSince(db: Db, feedId: number, since: Date): Promise<number> {
  return countRows(db('mail_outbox').where({ kind: 'invitation', feed_id: feedId, state: 'sent' }).where('sent_at', '>', toDbTime(since)));
}
