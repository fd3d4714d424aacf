import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import type { Knex } from 'knex';
import { archiveKey, type IncomingFile, type StoredFile } from '../archive/archive.js';
import type { Context } from '../context.js';
import { CONTROL_FILE_NAME } from '../core/control/controlFile.js';
import { isPlainFileName, isTemporaryName, MAX_CONTROL_BYTES, peekMode } from '../core/uploadSet.js';
import { SluiceError, usageError } from '../errors.js';
import type { Feed } from '../feeds/feeds.service.js';
import { createRun, getRun, runFiles, transition, type Run, type RunChannel } from '../runs/runs.service.js';
import { toDbTime } from '../storage/dialect.js';
import { clearLiveProgress } from '../storage/liveProgress.js';
import { transactionRetryingDeadlocks } from '../storage/retry.js';
import { faultPoint } from './faults.js';
import { trackIncoming } from './receivingMonitor.js';
import { announce } from './wakeUp.js';

type FileSource = { path: string; keepSource: boolean } | { stream: AsyncIterable<Uint8Array> };

/** Every channel turns a delivery into a run through these three calls. */
export async function startRun(ctx: Context, feed: Feed, channel: RunChannel, options: { reapplyOf?: number; forceUpdate?: boolean; actor?: string } = {}) {
  return createRun(ctx.database.knex, { feedId: feed.id, channel, ...options });
}

export async function addRunFile(ctx: Context, run: Run, feed: Feed, name: string, source: FileSource) {
  if (!isPlainFileName(name)) throw usageError(`"${name}" is not a plain file name`);
  const key = archiveKey(feed.slug, run.id, name);
  if ('path' in source) {
    const stored = await ctx.archive.claim(key, source.path, { keepSource: source.keepSource });
    await faultPoint('intake:after-archive');
    await recordRunFile(ctx, run.id, name, key, stored);
    return stored;
  }
  const tracked = trackIncoming(ctx, { runId: run.id }, name, null);
  try {
    const incoming = await ctx.archive.receive(counted(source.stream, tracked.reached));
    try {
      await faultPoint('intake:after-archive');
      await transactionRetryingDeadlocks(ctx.database, `add ${name}`, async (trx) => {
        if (!(await lockReceivingRun(ctx, trx, run.id))) throw new SluiceError('conflict', `run ${run.id} is no longer receiving files`);
        await commitRunFile(trx, run.id, name, key, incoming);
      });
    } finally {
      await incoming.discard();
    }
    return incoming.stored;
  } finally {
    tracked.end();
  }
}

/** The bytes of `stream` as they pass, for the run's progress (a pull can be long). */
async function* counted(stream: AsyncIterable<Uint8Array>, reached: (bytes: number) => void): AsyncIterable<Uint8Array> {
  let bytes = 0;
  for await (const chunk of stream) {
    bytes += chunk.length;
    reached(bytes);
    yield chunk;
  }
}

/** Locks the run's row if it is still `receiving`: its files may change only while it is. */
export async function lockReceivingRun(ctx: Context, trx: Knex.Transaction, runId: number): Promise<boolean> {
  return !!(await ctx.database.dialect.forUpdate(trx('runs').where({ id: runId, state: 'receiving' }).first('id')));
}

/**
 * Records a received file and moves it to its key, inside the caller's transaction that locked
 * the receiving run. The move comes last: a transaction rolled back before it (a deadlock's
 * victim) can be run again with the file still where `incoming` holds it.
 */
export async function commitRunFile(trx: Knex.Transaction, runId: number, name: string, key: string, incoming: IncomingFile) {
  await insertRunFile(trx, runId, name, key, incoming.stored);
  await incoming.commit(key);
}

/** Records an archived file with its run; a file of the same name is replaced. */
export async function recordRunFile(ctx: Context, runId: number, name: string, key: string, stored: StoredFile) {
  await transactionRetryingDeadlocks(ctx.database, `record ${name}`, (trx) => insertRunFile(trx, runId, name, key, stored));
}

/**
 * Records a file found in a receiving run's archive folder unless it is recorded by now. Under the
 * run's lock: another server's receive moves its file into the folder just before it commits the
 * row, and that row is seen here only once its transaction has ended.
 */
export async function adoptRunFile(ctx: Context, runId: number, name: string, key: string, stored: StoredFile): Promise<boolean> {
  return transactionRetryingDeadlocks(ctx.database, `adopt ${name}`, async (trx) => {
    if (!(await lockReceivingRun(ctx, trx, runId))) return false;
    if (await trx('run_files').where({ run_id: runId, name }).first('id')) return false;
    await insertRunFile(trx, runId, name, key, stored);
    return true;
  });
}

async function insertRunFile(trx: Knex.Transaction, runId: number, name: string, key: string, stored: StoredFile) {
  // The replaced row is looked up and deleted by its id: a DELETE by (run_id, name) that finds
  // nothing — the usual case — takes a gap lock on InnoDB's unique index, and two servers
  // receiving files for different runs then deadlock on each other's gap when they insert.
  const replaced = await trx('run_files').where({ run_id: runId, name }).first('id');
  if (replaced) await trx('run_files').where({ id: replaced.id }).delete();
  await trx('run_files').insert({
    run_id: runId,
    name,
    role: name === CONTROL_FILE_NAME ? 'control' : 'data',
    size: stored.size,
    sha256: stored.sha256,
    storage_key: key,
    created_at: toDbTime(),
  });
}

/** The set is complete: the run joins the queue. */
export async function queueRun(ctx: Context, runId: number): Promise<void> {
  const db = ctx.database.knex;
  const control = (await runFiles(db, runId)).find((f) => f.role === 'control');
  // An oversized control file is never read here: validation fails the run for its size.
  const mode = control && control.size <= MAX_CONTROL_BYTES ? peekMode((await buffer(ctx.archive.read(control.storageKey))).toString('utf8')) : null;
  if (await transition(db, runId, ['receiving'], 'queued', { message: 'upload set complete; queued', fields: { mode } })) announce('run-queued');
  await clearLiveProgress(db, runId);
}

/** Claims every file of a folder into a new run (data files first, the control file last). */
export async function runFromFolder(ctx: Context, feed: Feed, folder: string, options: { keepSource: boolean; channel?: RunChannel; actor?: string }): Promise<Run> {
  const names = (await readdir(folder)).filter((n) => !isTemporaryName(n)).sort();
  const files: string[] = [];
  // Links are not followed: what is imported is the folder's own files.
  for (const name of names) if ((await lstat(join(folder, name))).isFile()) files.push(name);
  if (!files.includes(CONTROL_FILE_NAME)) throw usageError(`${folder} has no ${CONTROL_FILE_NAME}; it is the control file that describes the data files`);
  const run = await startRun(ctx, feed, options.channel ?? 'cli', { actor: options.actor });
  for (const name of [...files.filter((n) => n !== CONTROL_FILE_NAME), CONTROL_FILE_NAME]) {
    await addRunFile(ctx, run, feed, name, { path: join(folder, name), keepSource: options.keepSource });
  }
  await queueRun(ctx, run.id);
  return getRun(ctx.database.knex, run.id);
}
