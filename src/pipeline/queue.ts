import type { Context } from '../context.js';
import { log } from '../log.js';
import { setProblem } from '../core/problems.js';
import { addRunEvent, getRun, recordProblems, terminalStates, transition, type Run } from '../runs/runs.service.js';
import { toDbTime } from '../storage/dialect.js';
import { applyRun, processRun } from './processRun.js';
import { leaseFields, RunLostError, withLease } from './runLease.js';
import { clearStaging } from './stagingChecks.js';

export { withLease } from './runLease.js';

/**
 * Claims the next run to process, at most one run per feed at a time. The feed row is locked
 * while choosing, so several processes on one database never claim the same run. The newest
 * queued full snapshot goes first; it supersedes older runs only once it has passed validation
 * (processRun), so a broken upload never takes the place of a good one. When it fails, the
 * older queued runs stay queued and the next claim takes the newest of them.
 */
export async function claimNextRun(ctx: Context, options: { feedId?: number } = {}): Promise<number | null> {
  const db = ctx.database.knex;
  const feedQuery = db('runs').where({ state: 'queued' }).distinct('feed_id');
  if (options.feedId !== undefined) feedQuery.where({ feed_id: options.feedId });
  const feedIds = ((await feedQuery) as { feed_id: number }[]).map((r) => Number(r.feed_id));
  for (const feedId of feedIds) {
    const claimed = await db.transaction(async (trx) => {
      await ctx.database.dialect.forUpdate(trx('feeds').where({ id: feedId }).first('id'));
      const busy = await trx('runs').where({ feed_id: feedId }).whereIn('state', ['validating', 'applying']).first('id');
      if (busy) return null;
      const queued = (await trx('runs').where({ feed_id: feedId, state: 'queued' }).orderBy('id').select('id', 'mode')) as { id: number; mode: string | null }[];
      const newestFull = [...queued].reverse().find((r) => r.mode === 'full');
      const next = newestFull ?? queued[0];
      if (!next) return null;
      if (next.mode !== 'full') {
        const heldBefore = await trx('runs').where({ feed_id: feedId, state: 'held' }).where('id', '<', next.id).first('id');
        if (heldBefore) return null; // delta runs apply strictly in order
      }
      const changed = await trx('runs')
        .where({ id: next.id, state: 'queued' })
        .update({ state: 'validating', ...leaseFields(ctx), progress: null, updated_at: toDbTime() });
      if (changed !== 1) return null;
      await addRunEvent(trx, Number(next.id), 'validating', { state: 'validating' });
      return Number(next.id);
    });
    if (claimed !== null) return claimed;
  }
  return null;
}

/**
 * Runs whose worker died (lease expired): one that was validating is queued again — validation
 * writes nothing to the directory; one that was applying is applied again from its stored
 * change set — its transaction never committed, or it would be `applied`.
 */
export async function recoverStaleRuns(ctx: Context): Promise<number[]> {
  const db = ctx.database.knex;
  const now = toDbTime();
  const stale = (await db('runs').whereIn('state', ['validating', 'applying']).where('lease_expires_at', '<', now).select('id', 'state')) as { id: number; state: string }[];
  const resumed: number[] = [];
  for (const { id, state } of stale) {
    const taken = await db('runs')
      .where({ id, state })
      .where('lease_expires_at', '<', now)
      .update({ ...leaseFields(ctx), updated_at: now, ...(state === 'validating' && { state: 'queued' }) });
    if (taken !== 1) continue;
    log.warn('recovering a run whose worker stopped', { run: id, state });
    await addRunEvent(db, id, state === 'validating' ? 'the worker stopped while validating; queued again' : 'the worker stopped while applying; nothing was committed, applying again', {
      state: state === 'validating' ? 'queued' : undefined,
    });
    if (state === 'applying') {
      try {
        await withLease(ctx, id, () => applyRun(ctx, id, { from: 'applying' }));
      } catch (error) {
        await afterError(ctx, id, error);
      }
      resumed.push(id);
    }
  }
  return resumed;
}

/** Processing a run that keeps failing with an error stops after this many attempts. */
export const MAX_ATTEMPTS = 3;

/** Processes queued runs until none is left that can go (optionally of one feed). */
export async function processQueue(ctx: Context, options: { feedId?: number } = {}): Promise<Run[]> {
  await recoverStaleRuns(ctx);
  const processed: Run[] = [];
  for (;;) {
    const runId = await claimNextRun(ctx, options);
    if (runId === null) return processed;
    try {
      processed.push(await withLease(ctx, runId, () => processRun(ctx, runId)));
    } catch (error) {
      processed.push(await afterError(ctx, runId, error));
    }
  }
}

/**
 * An error (a lost connection, a bug, a file that breaks something) leaves the directory as it
 * was: validation writes only staging, and an apply's transaction rolled back. The run is tried
 * again — a lost connection is usually gone the next time — and fails for good, with the error
 * in its list, after MAX_ATTEMPTS.
 */
async function afterError(ctx: Context, runId: number, error: unknown): Promise<Run> {
  const db = ctx.database.knex;
  if (error instanceof RunLostError) {
    // Cancelled or taken over: the run's record is no longer this worker's to write. Its
    // staging goes unless another worker now stages it afresh.
    const run = await getRun(db, runId);
    if (terminalStates.includes(run.state)) await clearStaging(ctx, runId);
    return getRun(db, runId);
  }
  const message = String((error as Error)?.message ?? error);
  log.error('run processing stopped with an error', { run: runId, error: String((error as Error)?.stack ?? error) });
  await db('runs').where({ id: runId }).increment('attempts', 1);
  const run = await getRun(db, runId);
  const attempts = run.attempts;
  if (run.state !== 'validating' && run.state !== 'applying') return run;
  if (attempts < MAX_ATTEMPTS) {
    await addRunEvent(db, runId, `processing stopped with an error (attempt ${attempts} of ${MAX_ATTEMPTS}): ${message}; trying again`);
    if (run.state === 'validating') await transition(db, runId, ['validating'], 'queued', { message: 'queued again after an error' });
    else await db('runs').where({ id: runId }).update({ lease_expires_at: toDbTime(new Date(0)) }); // recovery re-applies it
    return getRun(db, runId);
  }
  await recordProblems(db, ctx.database.dialect, runId, [setProblem('processing_error', `processing failed ${attempts} times; the last error: ${message}`)]);
  await db('runs').where({ id: runId }).increment('error_count', 1);
  await clearStaging(ctx, runId);
  await transition(db, runId, ['validating', 'applying'], 'failed', { message: `failed after ${attempts} attempts: ${message}; nothing was written` });
  return getRun(db, runId);
}
