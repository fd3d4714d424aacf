import type { Context } from '../context.js';
import { listFeeds } from '../feeds/feeds.service.js';
import { toDbTime } from '../storage/dialect.js';
import { listRuns } from '../runs/runs.service.js';
import { mailTemplates } from './mailTemplates.js';
import { enqueueMail } from './outbox.service.js';
import { runPageUrl } from './runReports.js';


/**
 * Once a day, from `SLUICE_DIGEST_AT` (UTC), one email to the operators and admins listing the
 * runs held longer than `SLUICE_DIGEST_HELD_HOURS`. The day is the key: one digest a day.
 */
export async function enqueueHeldDigest(ctx: Context, now = new Date()): Promise<void> {
  const { digestAtMinutes, digestHeldMs } = ctx.config.mail;
  if (now.getUTCHours() * 60 + now.getUTCMinutes() < digestAtMinutes) return;
  const db = ctx.database.knex;
  const dedupeKey = `digest:${now.toISOString().slice(0, 10)}`;
  if (await db('mail_outbox').where({ dedupe_key: dedupeKey }).first('id')) return;
  const held = await listRuns(db, { states: ['held'], updatedBefore: new Date(now.getTime() - digestHeldMs), limit: 500 });
  if (held.length === 0) return;
  const to = (await db('admins').whereIn('role', ['operator', 'admin']).orderBy('email').pluck('email')) as string[];
  if (to.length === 0) return;
  const slugOf = new Map((await listFeeds(db)).map((f) => [f.id, f.slug]));
  const data = {
    hours: Math.round(digestHeldMs / 3_600_000),
    runs: held.reverse().map((run) => ({
      id: run.id,
      feed: slugOf.get(run.feedId),
      heldSince: toDbTime(new Date(run.updatedAt)).slice(0, 16) + ' UTC',
      reasons: run.holdReasons.map((r) => r.message).join('; '),
      url: runPageUrl(ctx, run.id),
    })),
  };
  await enqueueMail(ctx, db, [
    { dedupeKey, kind: 'digest', to, subject: mailTemplates.get('digest.subject')!(data).trim(), text: mailTemplates.get('digest.text')!(data), html: mailTemplates.get('digest.html')!(data) },
  ], now);
}
