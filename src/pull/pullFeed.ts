import { Readable } from 'node:stream';
import type { Context } from '../context.js';
import { CONTROL_FILE_NAME, parseControlFile } from '../core/control/controlFile.js';
import { pullSettingProblems } from '../core/feedSettings.js';
import { setProblem } from '../core/problems.js';
import { redactUrl, redactUrlsIn } from '../core/redactUrl.js';
import { usageError } from '../errors.js';
import { getFeed, type Feed } from '../feeds/feeds.service.js';
import { log } from '../log.js';
import { recordAudit } from '../audit/audit.service.js';
import { addRunFile, queueRun, startRun } from '../pipeline/intake.js';
import { processQueue } from '../pipeline/queue.js';
import { addRunEvent, getRun, recordProblems, transition, updateRunFields, type Run } from '../runs/runs.service.js';
import { toDbTime } from '../storage/dialect.js';
import { PullError, pullPayload, type PullStats } from './pullClient.js';

/**
 * The data file a pull writes: the one file the feed's stored control file names, in the format
 * the API answers in. Checked before any request, so a misconfigured feed is told at once.
 */
export function pullTarget(feed: Feed): { name: string } {
  if (!feed.settings.pullUrl) throw usageError(`feed ${feed.slug} has no pullUrl: npx sluice feed set ${feed.slug} pullUrl https://…`);
  const lacking = pullSettingProblems(feed.settings);
  if (lacking.length) throw usageError(`feed ${feed.slug} cannot pull: ${lacking.join('; ')}`);
  if (!feed.controlFile) throw usageError(`feed ${feed.slug} has no stored control file to map the pulled records: npx sluice feed control ${feed.slug} control.json`);
  const { control, problems } = parseControlFile(feed.controlFile, { feed: feed.slug });
  if (!control) throw usageError(`the stored control file of ${feed.slug} is not valid: ${problems[0]?.message ?? 'unknown problem'}`);
  const files = Object.entries(control.files);
  if (files.length !== 1 || files[0]![1].type !== 'users') throw usageError(`a pull writes one users file: the stored control file of ${feed.slug} must name exactly one file, of type users`);
  const [name, spec] = files[0]!;
  if (spec.format !== feed.settings.pullFormat) {
    throw usageError(`the stored control file reads ${name} as ${spec.format}, but pullFormat is ${feed.settings.pullFormat}`);
  }
  return { name };
}

/** Starts a pull: the run that will carry the fetched payload, in state `receiving`. */
export async function startPull(ctx: Context, feed: Feed, actor?: string): Promise<Run> {
  pullTarget(feed);
  const run = await startRun(ctx, feed, 'pull', { actor });
  await addRunEvent(ctx.database.knex, run.id, `pulling from ${redactUrl(feed.settings.pullUrl!)}${actor ? ` for ${actor}` : ''}`);
  return run;
}

/** "Sync now" asked for by a person or a source script (admin page, CLI, API): audited, unlike the schedule's pulls. */
export async function startSyncNow(ctx: Context, feed: Feed, actor: string): Promise<Run> {
  const run = await startPull(ctx, feed, actor);
  await recordAudit(ctx.database.knex, { actor, action: 'feed.sync', target: `feed ${feed.slug}`, details: { run: run.id } });
  return run;
}

/**
 * Fetches every page into the run's archive, adds the stored control file, and queues the run —
 * from there it is validated, diffed, held or applied like any upload. A failed fetch is a
 * failed run, with the reason and nothing else: no credentials, no query parameters.
 */
export async function completePull(ctx: Context, feedId: number, run: Run): Promise<Run> {
  const db = ctx.database.knex;
  const feed = await getFeed(db, feedId);
  const stats: PullStats = { pages: 0, records: 0 };
  try {
    const { name } = pullTarget(feed);
    await addRunFile(ctx, run, feed, name, { stream: pullPayload(ctx, feed, stats) });
    await addRunFile(ctx, run, feed, CONTROL_FILE_NAME, { stream: Readable.from([Buffer.from(feed.controlFile!)]) });
    await addRunEvent(db, run.id, `pulled ${stats.records} records in ${stats.pages} page${stats.pages === 1 ? '' : 's'}`);
    await queueRun(ctx, run.id);
  } catch (error) {
    const message = error instanceof PullError || (error as { code?: string })?.code === 'usage' ? (error as Error).message : 'the pull stopped with an internal error; see the server log';
    if (!(error instanceof PullError)) log.error('pull failed', { feed: feed.slug, run: run.id, error: redactUrlsIn(String((error as Error)?.stack ?? error)) });
    await recordProblems(db, ctx.database.dialect, run.id, [setProblem('pull_failed', message)]);
    await updateRunFields(db, run.id, { error_count: 1 });
    await transition(db, run.id, ['receiving'], 'failed', { message: `pull failed after ${stats.pages} page${stats.pages === 1 ? '' : 's'}: ${message}` });
  }
  await db('feed_pulls')
    .insert({ feed_id: feed.id, last_pull_at: toDbTime(), last_run_id: run.id })
    .onConflict('feed_id')
    .merge(['last_pull_at', 'last_run_id']);
  return getRun(db, run.id);
}

/** A whole pull, for the schedule (the process-queue job takes the run from there). */
export async function pullFeed(ctx: Context, feed: Feed, actor?: string): Promise<Run> {
  return completePull(ctx, feed.id, await startPull(ctx, feed, actor));
}

/** "Sync now": completes a started pull and processes its run at once, like an import. */
export async function syncNow(ctx: Context, feedId: number, run: Run): Promise<Run> {
  await completePull(ctx, feedId, run);
  await processQueue(ctx, { feedId });
  return getRun(ctx.database.knex, run.id);
}
