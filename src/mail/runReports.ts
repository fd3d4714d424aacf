import type { Context } from '../context.js';
import { problemLocation } from '../core/problems.js';
import { getFeed, type Feed } from '../feeds/feeds.service.js';
import { waitingOlderRuns } from '../runs/newerRuns.js';
import { csvHead, runErrorsCsv } from '../runs/runExports.js';
import { runFieldSummary } from '../runs/fieldSummary.service.js';
import { getRun, reportedStates, runErrors, type Run } from '../runs/runs.service.js';
import { mailTemplates } from './mailTemplates.js';
import { enqueueInvitations } from './invitations.js';
import { enqueueMail, type NewMail } from './outbox.service.js';

const FIRST_ERRORS = 10;
/** Larger error lists are cut in the attachment; the run page has them all. */
const MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024;

export const runPageUrl = (ctx: Context, runId: number) => new URL(`/admin/runs/${runId}`, ctx.config.publicUrl).toString();

const countRows = (run: Run) => [
  { label: 'users created', n: run.counts.users.created },
  { label: 'users updated', n: run.counts.users.updated },
  { label: 'users suspended', n: run.counts.users.suspended },
  { label: 'users reactivated', n: run.counts.users.reactivated },
  { label: 'users deleted', n: run.counts.users.deleted },
  { label: 'users unchanged', n: run.counts.users.unchanged },
  { label: 'groups created', n: run.counts.groups.created },
  { label: 'groups updated', n: run.counts.groups.updated },
  { label: 'memberships added', n: run.counts.memberships.added },
  { label: 'memberships removed', n: run.counts.memberships.removed },
];

/** The report of PRODUCT §8 for a run in its current state. */
export async function composeRunReport(ctx: Context, run: Run, feed: Feed, reportKey: string): Promise<NewMail> {
  const db = ctx.database.knex;
  const errors = await runErrors(db, run.id, { limit: FIRST_ERRORS });
  const attachmentName = `run-${run.id}-errors.csv`;
  const data = {
    feed: { slug: feed.slug, name: feed.name },
    run,
    counts: countRows(run),
    // What the updates change, field by field: "jobTitle: changed for 50 000" says more than a count.
    fields:
      run.counts.users.updated + run.counts.users.reactivated > 0
        ? (await runFieldSummary(db, ctx.database.dialect, run.id)).map((f) => ({
            ...f,
            line: [f.set && `set for ${f.set.toLocaleString('en')}`, f.changed && `changed for ${f.changed.toLocaleString('en')}`, f.cleared && `cleared for ${f.cleared.toLocaleString('en')}`].filter(Boolean).join(', '),
            example: f.examples[0] ? `${f.examples[0].key}: ${JSON.stringify(f.examples[0].before)} -> ${JSON.stringify(f.examples[0].after)}` : '',
          }))
        : [],
    errors: errors.map((e) => ({ where: problemLocation(e) || '—', code: e.code, message: e.message })),
    moreErrors: run.errorCount > errors.length,
    attachmentName,
    url: runPageUrl(ctx, run.id),
    // A failed snapshot replaces nothing: say which older runs still wait, so nobody thinks it did.
    stillWaiting: run.state === 'failed' && run.mode !== 'delta' ? (await waitingOlderRuns(db, run)).map((r) => ({ ...r, url: runPageUrl(ctx, r.id) })) : [],
  };
  const head = run.errorCount > 0 ? await csvHead(runErrorsCsv(db, run.id), MAX_ATTACHMENT_BYTES) : null;
  const csv = head && (head.cut ? `${head.text}…cut here; the run's page has every error\r\n` : head.text);
  return {
    dedupeKey: reportKey,
    kind: 'report',
    feedId: feed.id,
    runId: run.id,
    to: feed.settings.reportEmails,
    subject: mailTemplates.get('report.subject')!(data).trim(),
    text: mailTemplates.get('report.text')!(data),
    html: mailTemplates.get('report.html')!(data),
    attachments: csv ? [{ filename: attachmentName, contentType: 'text/csv; charset=utf-8', content: csv }] : [],
  };
}

/**
 * Puts the report of every run that reached `held`, `failed` or `applied` since it was last
 * reported into the outbox, and the invitations of the users an applied run created. Safe to
 * repeat after a crash: the outbox keeps one mail per key.
 */
export async function enqueueRunReports(ctx: Context, now = new Date(), batch = 100): Promise<number> {
  const db = ctx.database.knex;
  const due = ((await db('runs')
    .whereIn('state', reportedStates)
    .where((q) => q.whereNull('reported_state').orWhereRaw('reported_state <> state'))
    .orderBy('id')
    .limit(batch)
    .pluck('id')) as number[]).map(Number);
  for (const id of due) {
    const run = await getRun(db, id);
    const feed = await getFeed(db, run.feedId);
    // The event that moved the run into this state tells this episode from an earlier one.
    const event = await db('run_events').where({ run_id: id, state: run.state }).max({ id: 'id' }).first();
    const key = `report:${id}:${run.state}:${event?.id ?? 0}`;
    if (feed.settings.reportOn.includes(run.state as never) && feed.settings.reportEmails.length) {
      await enqueueMail(ctx, db, [await composeRunReport(ctx, run, feed, key)], now);
    }
    if (run.state === 'applied') await enqueueInvitations(ctx, run, feed, now);
    await db('runs').where({ id, state: run.state }).update({ reported_state: run.state });
  }
  return due.length;
}
