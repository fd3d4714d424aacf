import { buffer } from 'node:stream/consumers';
import type { Context } from '../context.js';
import { CONTROL_FILE_NAME } from '../core/control/controlFile.js';
import { namedFiles } from '../core/uploadSet.js';
import type { Feed } from '../feeds/feeds.service.js';
import { setProblem } from '../core/problems.js';
import { addRunEvent, createRun, getRun, recordProblems, runFiles, transition, updateRunFields, type Run, type RunChannel } from '../runs/runs.service.js';
import { describeStored, type StoredFile } from '../archive/archive.js';
import { toDbTime } from '../storage/dialect.js';
import { addRunFile, queueRun, recordRunFile } from './intake.js';

type Source = Parameters<typeof addRunFile>[4];

/**
 * The feed's open upload set on a channel: files arriving one by one (HTTP uploads, a folder
 * filling up) collect in one `receiving` run until its control file and every file it names
 * are there. The feed row is locked while looking, so two uploads never open two sets.
 */
export async function openReceivingRun(ctx: Context, feed: Feed, channel: RunChannel): Promise<Run> {
  const db = ctx.database.knex;
  const id = await db.transaction(async (trx) => {
    await ctx.database.dialect.forUpdate(trx('feeds').where({ id: feed.id }).first('id'));
    const open = await trx('runs').where({ feed_id: feed.id, channel, state: 'receiving' }).orderBy('id').first('id');
    if (open) return Number(open.id);
    return (await createRun(trx, { feedId: feed.id, channel })).id;
  });
  return getRun(db, id);
}

export interface ReceiveResult {
  run: Run;
  /** The file just received, as archived (absent from `completeIfReady`). */
  stored?: StoredFile;
  /** Files the control file names that have not arrived (the control file itself while it has not). */
  missing: string[];
}

/** Adds one file to the feed's open set on `channel` (replacing a file of the same name) and queues the set once complete. */
export async function receiveFile(ctx: Context, feed: Feed, channel: RunChannel, name: string, source: Source): Promise<ReceiveResult> {
  const run = await openReceivingRun(ctx, feed, channel);
  const stored = await addRunFile(ctx, run, feed, name, source);
  return { ...(await completeIfReady(ctx, run.id)), stored };
}

/**
 * Files that reached a receiving run's archive folder but were never recorded — the process
 * stopped between the move and the insert — are recorded now, so a claimed file is never lost.
 */
export async function adoptArchivedFiles(ctx: Context, feed: Feed, run: Run): Promise<string[]> {
  const prefix = `${feed.slug}/${run.id}/`;
  const recorded = new Set((await runFiles(ctx.database.knex, run.id)).map((f) => f.name));
  const adopted: string[] = [];
  for (const name of await ctx.archive.list(prefix)) {
    if (recorded.has(name)) continue;
    await recordRunFile(ctx, run.id, name, `${prefix}${name}`, await describeStored(ctx.archive, `${prefix}${name}`));
    await addRunEvent(ctx.database.knex, run.id, `recovered ${name}, claimed before the last stop`);
    adopted.push(name);
  }
  return adopted;
}

/** Which named files a receiving run still lacks; queues it when none. */
export async function completeIfReady(ctx: Context, runId: number): Promise<ReceiveResult> {
  const db = ctx.database.knex;
  const files = await runFiles(db, runId);
  const control = files.find((f) => f.name === CONTROL_FILE_NAME);
  if (!control) return { run: await getRun(db, runId), missing: [CONTROL_FILE_NAME] };
  const named = namedFiles((await buffer(ctx.archive.read(control.storageKey))).toString('utf8'));
  // An unreadable control file cannot say what is missing: validation will say what is wrong.
  const missing = named ? named.filter((n) => !files.some((f) => f.name === n)) : [];
  if (missing.length === 0) {
    await queueRun(ctx, runId);
  } else {
    const message = `waiting for ${missing.join(', ')}`;
    const last = await db('run_events').where({ run_id: runId }).orderBy('id', 'desc').first('message');
    if (last?.message !== message) await addRunEvent(db, runId, message);
  }
  return { run: await getRun(db, runId), missing };
}

/** Sets that stayed incomplete longer than `olderThanMs` fail, saying what never arrived. */
export async function failIncompleteRuns(ctx: Context, olderThanMs: number): Promise<number[]> {
  const db = ctx.database.knex;
  const cutoff = toDbTime(new Date(Date.now() - olderThanMs));
  const stale = (await db('runs').where({ state: 'receiving' }).where('created_at', '<', cutoff).pluck('id')) as number[];
  const failed: number[] = [];
  for (const id of stale.map(Number)) {
    const { missing } = await completeIfReady(ctx, id);
    if (missing.length === 0) continue;
    const message = `the upload set stayed incomplete; never arrived: ${missing.join(', ')}`;
    await recordProblems(db, ctx.database.dialect, id, missing.map((file) => setProblem('file_missing', 'never arrived', { file })));
    await updateRunFields(db, id, { error_count: missing.length });
    if (await transition(db, id, ['receiving'], 'failed', { message })) failed.push(id);
  }
  return failed;
}
