import type { FileHandle } from 'node:fs/promises';
import { buffer } from 'node:stream/consumers';
import type { Context } from '../context.js';
import { CONTROL_FILE_NAME } from '../core/control/controlFile.js';
import { fileNameProblem, MAX_SET_FILES } from '../core/fileNames.js';
import { MAX_CONTROL_BYTES, namedFiles } from '../core/uploadSet.js';
import { usageError } from '../errors.js';
import type { Feed } from '../feeds/feeds.service.js';
import { setProblem } from '../core/problems.js';
import { addRunEvent, createRun, getRun, recordProblems, runFiles, transition, updateRunFields, type Run, type RunChannel } from '../runs/runs.service.js';
import { archiveKey, describeStored, type StoredFile } from '../archive/archive.js';
import { toDbTime } from '../storage/dialect.js';
import { clearLiveProgress } from '../storage/liveProgress.js';
import { transactionRetryingDeadlocks } from '../storage/retry.js';
import { faultPoint } from './faults.js';
import { adoptRunFile, commitRunFile, lockReceivingRun, queueRun } from './intake.js';
import { writeReceivingProgress } from './receivingMonitor.js';

/**
 * The feed's open upload set on a channel: files arriving one by one (HTTP uploads, a folder
 * filling up) collect in one `receiving` run until its control file and every file it names
 * are there. The feed row is locked while looking, so two uploads never open two sets.
 */
export async function openReceivingRun(ctx: Context, feed: Feed, channel: RunChannel): Promise<Run> {
  const db = ctx.database.knex;
  const id = await transactionRetryingDeadlocks(ctx.database, 'open a receiving run', async (trx) => {
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

/**
 * Adds one file to the feed's open set on `channel` (replacing a file of the same name) and
 * queues the set once complete. The set is chosen only once the file has fully arrived, under
 * the feed's lock: a file that finishes after its set was completed joins the feed's next set,
 * and a run that has left `receiving` never has a file added or replaced.
 */
export async function receiveFile(
  ctx: Context,
  feed: Feed,
  channel: RunChannel,
  name: string,
  source: { stream: AsyncIterable<Uint8Array> } | { path: string; handle: FileHandle },
): Promise<ReceiveResult> {
  const { runId, stored } = await recordReceivedFile(ctx, feed, channel, name, source);
  return { ...(await completeIfReady(ctx, runId)), stored };
}

/** The first half of `receiveFile`: the file archived and recorded in the open set, not yet queued. */
export async function recordReceivedFile(
  ctx: Context,
  feed: Feed,
  channel: RunChannel,
  name: string,
  source: { stream: AsyncIterable<Uint8Array> } | { path: string; handle: FileHandle },
): Promise<{ runId: number; stored: StoredFile }> {
  const problem = fileNameProblem(name);
  if (problem) throw usageError(`${JSON.stringify(name)}: ${problem}`);
  const incoming = 'stream' in source ? await ctx.archive.receive(source.stream) : await ctx.archive.receiveOpened(source.path, source.handle);
  let runId: number;
  try {
    await faultPoint('intake:after-archive');
    // Servers receiving files for different feeds at once can meet in run_files' index; the
    // victim of such a deadlock is retried rather than losing the file it was receiving.
    runId = await transactionRetryingDeadlocks(ctx.database, `receive ${name}`, async (trx) => {
      await ctx.database.dialect.forUpdate(trx('feeds').where({ id: feed.id }).first('id'));
      const open = await trx('runs').where({ feed_id: feed.id, channel, state: 'receiving' }).orderBy('id').first('id');
      const id = open && (await lockReceivingRun(ctx, trx, Number(open.id))) ? Number(open.id) : (await createRun(trx, { feedId: feed.id, channel })).id;
      await commitRunFile(trx, id, name, archiveKey(feed.slug, id, name), incoming);
      return id;
    });
  } finally {
    await incoming.discard();
  }
  return { runId, stored: incoming.stored };
}

/**
 * Files that reached a receiving run's archive folder but were never recorded — the process
 * stopped between the move and the commit — are recorded now, so a claimed file is never lost.
 */
export async function adoptArchivedFiles(ctx: Context, feed: Feed, run: Run): Promise<string[]> {
  const prefix = `${feed.slug}/${run.id}/`;
  const recorded = new Set((await runFiles(ctx.database.knex, run.id)).map((f) => f.name));
  const adopted: string[] = [];
  for (const name of await ctx.archive.list(prefix)) {
    if (recorded.has(name)) continue;
    if (!(await adoptRunFile(ctx, run.id, name, `${prefix}${name}`, await describeStored(ctx.archive, `${prefix}${name}`)))) continue;
    await addRunEvent(ctx.database.knex, run.id, `recovered ${name}, claimed before the last stop`);
    adopted.push(name);
  }
  return adopted;
}

/** Which named files a receiving run still lacks; queues it when none. */
export async function completeIfReady(ctx: Context, runId: number): Promise<ReceiveResult> {
  const db = ctx.database.knex;
  const files = await runFiles(db, runId);
  // A set that grows past what a set may hold fails now, with its files kept, rather than
  // collecting uploads without end; the next file opens a new set.
  if (files.length > MAX_SET_FILES + 1) {
    const message = `the upload set holds ${files.length} files; a set holds at most ${MAX_SET_FILES} data files and its control file`;
    await recordProblems(db, ctx.database.dialect, runId, [setProblem('file_extra', message)]);
    await updateRunFields(db, runId, { error_count: 1 });
    await transition(db, runId, ['receiving'], 'failed', { message });
    return { run: await getRun(db, runId), missing: [] };
  }
  const control = files.find((f) => f.name === CONTROL_FILE_NAME);
  if (!control) {
    await writeReceivingProgress(ctx, runId);
    return { run: await getRun(db, runId), missing: [CONTROL_FILE_NAME] };
  }
  // An oversized control file, or one naming more files than a set may hold, cannot say what
  // is missing: validation fails the run and says why.
  const named = control.size <= MAX_CONTROL_BYTES ? namedFiles((await buffer(ctx.archive.read(control.storageKey))).toString('utf8')) : null;
  const missing = named && named.length <= MAX_SET_FILES ? named.filter((n) => !files.some((f) => f.name === n)) : [];
  if (missing.length === 0) {
    await queueRun(ctx, runId);
  } else {
    await writeReceivingProgress(ctx, runId);
    const message = `waiting for ${listNames(missing)}`;
    const last = await db('run_events').where({ run_id: runId }).orderBy('id', 'desc').first('message');
    if (last?.message !== message) await addRunEvent(db, runId, message);
  }
  return { run: await getRun(db, runId), missing };
}

/** A list of names for a run event, bounded: the run page shows events in full. */
export function listNames(names: string[], shown = 10): string {
  const head = names.slice(0, shown).join(', ');
  return names.length > shown ? `${head} and ${names.length - shown} more` : head;
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
    const message = `the upload set stayed incomplete; never arrived: ${listNames(missing)}`;
    await recordProblems(db, ctx.database.dialect, id, missing.map((file) => setProblem('file_missing', 'never arrived', { file })));
    await updateRunFields(db, id, { error_count: missing.length });
    if (await transition(db, id, ['receiving'], 'failed', { message })) failed.push(id);
    await clearLiveProgress(db, id);
  }
  return failed;
}
