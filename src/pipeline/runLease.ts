import { AsyncLocalStorage } from 'node:async_hooks';
import type { Context } from '../context.js';
import { log } from '../log.js';
import { toDbTime, type Db } from '../storage/dialect.js';
import { clearLiveProgress, writeLiveProgress } from '../storage/liveProgress.js';
import { RunProgress, type ProgressSnapshot } from './progress.js';

/**
 * A worker's hold on a run. The run can be taken from it while it works — an administrator's
 * "unsafe mark cancelled", or another process recovering what looked like a dead worker — and
 * then the worker must stop writing: the pipeline asks `checkRunOwned()` between batches.
 */
interface Lease {
  ctx: Context;
  runId: number;
  /** Set by the heartbeat when it finds the run is no longer ours; checked without a query. */
  lost: string | null;
  progress: RunProgress;
}

const current = new AsyncLocalStorage<Lease>();
/** The runs this process works on, for a progress line in the same process (`sluice import`). */
const heldHere = new Map<number, Lease>();

/** Thrown where a worker finds its run taken from it; nothing more is written for the run. */
export class RunLostError extends Error {
  constructor(
    readonly runId: number,
    reason: string,
  ) {
    super(`run ${runId} is no longer this worker's (${reason}); stopped without writing more`);
  }
}

export const leaseUntil = (ctx: Context) => toDbTime(new Date(Date.now() + ctx.leaseSeconds * 1000));

/** The lease columns a worker sets when it takes a run. */
export const leaseFields = (ctx: Context) => ({ lease_owner: ctx.workerId, lease_expires_at: leaseUntil(ctx), heartbeat_at: toDbTime() });

/**
 * Keeps a run's lease alive while `work` runs, and lets the pipeline inside `work` find out
 * when the run is no longer its own.
 */
export async function withLease<T>(ctx: Context, runId: number, work: () => Promise<T>): Promise<T> {
  const db = ctx.database.knex;
  const lease: Lease = { ctx, runId, lost: null, progress: new RunProgress() };
  const timer = setInterval(
    () => {
      db('runs')
        .where({ id: runId, lease_owner: ctx.workerId })
        .whereIn('state', ['validating', 'applying'])
        .update({ lease_expires_at: leaseUntil(ctx), heartbeat_at: toDbTime() })
        .then(async (renewed) => {
          if (renewed === 1) return;
          // A held run being approved is not ours until applyRun moves it to `applying`.
          const reason = await lostReason(db, ctx, runId);
          if (reason && !reason.startsWith('it is held')) lease.lost = reason;
        })
        .catch((error: unknown) => log.warn('could not renew a run lease', { run: runId, error: String(error) }));
    },
    Math.max(500, (ctx.leaseSeconds * 1000) / 3),
  );
  const progress = writeProgressEverySecond(db, ctx, lease);
  heldHere.set(runId, lease);
  try {
    return await current.run(lease, work);
  } catch (error) {
    if (error instanceof RunLostError) log.warn('stopped working on a run that is no longer ours', { run: runId, reason: error.message });
    throw error;
  } finally {
    heldHere.delete(runId);
    clearInterval(timer);
    await progress.stop();
  }
}

/**
 * The progress of a run this process works on, read from memory: on SQLite the process's one
 * connection is taken by the run's apply transaction, and a read through it would wait.
 */
export function progressHeldHere(runId: number): ProgressSnapshot | null {
  return heldHere.get(runId)?.progress.snapshot() ?? null;
}

/** The progress of the run this worker is processing; null outside a lease. */
export function currentProgress(): RunProgress | null {
  return current.getStore()?.progress ?? null;
}

/**
 * Every second (and once at the end) the worker's progress goes to the run's row, for other
 * processes and the run page. A write that fails only costs one update. On MySQL the row can be
 * written while the run's apply transaction is open: that transaction locks the run's row only
 * with its last statement (the move to `applied`), so a write waits at most for the commit.
 */
function writeProgressEverySecond(db: Db, ctx: Context, lease: Lease) {
  let last = '';
  let writing: Promise<unknown> = Promise.resolve();
  const write = () => {
    const snapshot = lease.progress.snapshot();
    const { at: _at, ...shown } = snapshot;
    const key = JSON.stringify(shown);
    if (key === last || lease.lost) return;
    last = key;
    // While the apply transaction is open the run's row may not be writable by anyone else
    // (SQLite: one writer): the progress goes beside the database then, where there is one.
    try {
      if (lease.progress.transactionOpen && writeLiveProgress(db, lease.runId, snapshot)) return;
    } catch (error) {
      log.warn('could not record a run\'s progress', { run: lease.runId, error: String(error) });
      return;
    }
    // One after the other: writes told at once by the apply follow each other closely, and on
    // separate connections an older one could land last.
    writing = writing
      .then(() => db('runs').where({ id: lease.runId, lease_owner: ctx.workerId }).update({ progress: JSON.stringify(snapshot) }))
      .catch((error: unknown) => log.warn('could not record a run\'s progress', { run: lease.runId, error: String(error) }));
  };
  // Also at once when the apply moves on: between two of its statements may be all there is.
  lease.progress.changed = write;
  const timer = setInterval(write, Number(process.env.SLUICE_PROGRESS_MS ?? 1000));
  return {
    async stop() {
      clearInterval(timer);
      lease.progress.changed = null;
      await writing;
      write();
      await writing;
      await clearLiveProgress(db, lease.runId).catch(() => undefined);
    },
  };
}

/**
 * Throws RunLostError when the run this worker processes was cancelled or taken over. One
 * primary-key read: cheap enough between batches of thousands of rows. Outside `withLease`
 * (tests driving a stage directly) there is nothing to check.
 */
export async function checkRunOwned(): Promise<void> {
  const lease = current.getStore();
  if (!lease) return;
  if (!lease.lost) lease.lost = await lostReason(lease.ctx.database.knex, lease.ctx, lease.runId);
  if (lease.lost) throw new RunLostError(lease.runId, lease.lost);
}

/**
 * Why the run is not this worker's, or null while it is. Runs this worker moved on (`held`,
 * `applied`, `failed`) are still its own to finish the bookkeeping of.
 */
async function lostReason(db: Db, ctx: Context, runId: number): Promise<string | null> {
  const row = (await db('runs').where({ id: runId }).first('state', 'lease_owner')) as { state: string; lease_owner: string | null } | undefined;
  if (!row) return 'it was deleted';
  if (row.state === 'cancelled' || row.state === 'superseded' || row.state === 'queued' || row.state === 'receiving') return `it is ${row.state}`;
  if ((row.state === 'validating' || row.state === 'applying' || row.state === 'held') && row.lease_owner !== ctx.workerId) {
    return `it is ${row.state} under ${row.lease_owner ?? 'no worker'}`;
  }
  return null;
}
