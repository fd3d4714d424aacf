import type { Context } from '../context.js';
import { SluiceError } from '../errors.js';
import { log } from '../log.js';
import { announce } from '../pipeline/wakeUp.js';
import { syncNow } from '../pull/pullFeed.js';
import { toDbTime } from '../storage/dialect.js';
import { approveRun, reapplyRun, revalidateRun } from './runActions.js';
import { addRunEvent, getRun } from './runs.service.js';

/** Actions whose work (validating, diffing, applying, pulling) a run executor does for a request. */
export type RunWorkAction = 'apply' | 'reapply' | 'revalidate' | 'sync';

export interface RunWorkRequest {
  action: RunWorkAction;
  runId: number;
  feedId: number;
  actor?: string;
}

/**
 * Records the work a person asked for and wakes the executors; the request answers at once and
 * the run's page follows it. Any process's executor may take it (each row is taken once).
 */
export async function requestRunWork(ctx: Context, request: RunWorkRequest): Promise<void> {
  await ctx.database.knex('run_requests').insert({
    run_id: request.runId,
    feed_id: request.feedId,
    action: request.action,
    actor: request.actor ?? null,
    requested_at: toDbTime(),
  });
  announce('run-queued');
}

/** Does the requests waiting, oldest first, each taken once across executors; how many it did. */
export async function performRunRequests(ctx: Context, shouldStop: () => boolean = () => false): Promise<number> {
  const db = ctx.database.knex;
  let done = 0;
  while (!shouldStop()) {
    const row = await db('run_requests').orderBy('id').first();
    if (!row) break;
    // Whoever deletes the row owns the request: another executor may have just taken it.
    if ((await db('run_requests').where({ id: row.id }).delete()) !== 1) continue;
    const request: RunWorkRequest = { action: row.action, runId: Number(row.run_id), feedId: Number(row.feed_id), actor: row.actor ?? undefined };
    await perform(ctx, request);
    done++;
  }
  return done;
}

async function perform(ctx: Context, request: RunWorkRequest): Promise<void> {
  const { action, runId, actor } = request;
  try {
    if (action === 'apply') await approveRun(ctx, runId, actor);
    else if (action === 'reapply') await reapplyRun(ctx, runId, actor);
    else if (action === 'revalidate') await revalidateRun(ctx, runId, actor);
    else if (action === 'sync') await syncNow(ctx, request.feedId, await getRun(ctx.database.knex, runId));
    else log.error('unknown run request', { action, run: runId });
  } catch (error) {
    // Refused after the page answered (another admin was quicker, the files were purged): the
    // person who asked finds why on the run's timeline, as the page would have said.
    if (error instanceof SluiceError) {
      await addRunEvent(ctx.database.knex, runId, `${action} refused: ${error.message}`, { actor }).catch(() => undefined);
      return;
    }
    log.error('a requested run action failed', { action, run: runId, error: String((error as Error)?.stack ?? error) });
  }
}
