import { archiveKey } from '../archive/archive.js';
import type { Context } from '../context.js';
import { releaseExport } from '../exports/exports.service.js';
import { getFeed } from '../feeds/feeds.service.js';
import { addRunFile, queueRun, startRun } from '../pipeline/intake.js';
import { applyRun } from '../pipeline/processRun.js';
import { processQueue, withLease } from '../pipeline/queue.js';
import { RunLostError } from '../pipeline/runLease.js';
import { clearStaging } from '../pipeline/stagingChecks.js';
import { invalidState } from '../errors.js';
import { recordAudit } from '../audit/audit.service.js';
import type { RunState } from '../core/feedSettings.js';
import { getRun, requireTransition, runFiles, type Run } from './runs.service.js';

/** The actions of PRODUCT §6, shared by the CLI, the API and the admin page. */

/** The states each action that does a run's work starts from (PRODUCT §6). */
export const workActionStates = {
  apply: ['held'],
  reapply: ['applied', 'failed', 'cancelled', 'superseded'],
  revalidate: ['failed'],
} as const satisfies Record<string, readonly RunState[]>;

/** Refuses, as the action itself would, an action the run's state does not allow: before it is handed on. */
export function assertWorkAction(run: Run, action: keyof typeof workActionStates): void {
  assertState(run, [...workActionStates[action]], action === 'reapply' ? 're-apply' : action);
  // An application's changes and their exports are not snapshots of the source.
  if (action === 'reapply' && !isSourceRun(run)) throw invalidState(`run ${run.id} is an ${run.channel} run; only a source's runs can be re-applied`, { reason: 'not_a_source_run' });
}

/** A run of the source's files (not an application's changes or their export). */
export const isSourceRun = (run: Pick<Run, 'channel'>): boolean => run.channel !== 'app' && run.channel !== 'export';

export async function approveRun(ctx: Context, runId: number, actor?: string): Promise<Run> {
  const held = await getRun(ctx.database.knex, runId);
  assertWorkAction(held, 'apply');
  await audit(ctx, actor, 'run.apply', runId);
  // A held export is approved by sending it; it changes nothing in the directory.
  if (held.channel === 'export') return releaseExport(ctx, runId, actor);
  try {
    return await withLease(ctx, runId, () => applyRun(ctx, runId, { from: 'held', actor }));
  } catch (error) {
    // Cancelled while it was applying: nothing was committed; say what became of it.
    if (!(error instanceof RunLostError)) throw error;
    await clearStaging(ctx, runId);
    return getRun(ctx.database.knex, runId);
  }
}

export async function cancelRun(ctx: Context, runId: number, options: { actor?: string; unsafe?: boolean } = {}): Promise<Run> {
  const db = ctx.database.knex;
  const run = await getRun(db, runId);
  if (options.unsafe) {
    await requireTransition(db, run, ['validating', 'applying'], 'cancelled', {
      actor: options.actor,
      message: 'unsafely marked cancelled while in progress; the next run recomputes from the real directory',
    });
  } else {
    await requireTransition(db, run, ['receiving', 'queued', 'held'], 'cancelled', { actor: options.actor, message: 'cancelled; its files stay downloadable' });
  }
  await audit(ctx, options.actor, options.unsafe ? 'run.cancel-unsafe' : 'run.cancel', runId);
  await clearStaging(ctx, runId);
  return getRun(db, runId);
}

/** A new run with the same files, written with forceUpdate: restores that run's snapshot. */
export async function reapplyRun(ctx: Context, runId: number, actor?: string): Promise<Run> {
  const db = ctx.database.knex;
  const source = await getRun(db, runId);
  assertWorkAction(source, 'reapply');
  const feed = await getFeed(db, source.feedId);
  // Checked before the new run exists, so a refusal leaves no stray `receiving` run behind.
  const files = await runFiles(db, source.id);
  const purged = files.filter((f) => f.purged).map((f) => f.name).sort();
  if (purged.length) {
    throw invalidState(`run ${source.id}'s files were removed by retention (${purged.join(', ')}); it cannot be re-applied — upload the set again instead`, { reason: 'files_purged' });
  }
  const run = await startRun(ctx, feed, 'reapply', { reapplyOf: source.id, forceUpdate: true, actor });
  for (const file of files.sort((a, b) => Number(a.role === 'control') - Number(b.role === 'control'))) {
    await addRunFile(ctx, run, feed, file.name, { stream: ctx.archive.read(archiveKey(feed.slug, source.id, file.name)) });
  }
  await queueRun(ctx, run.id);
  await audit(ctx, actor, 'run.reapply', source.id, { newRun: run.id });
  await processQueue(ctx, { feedId: feed.id });
  return getRun(db, run.id);
}

export async function revalidateRun(ctx: Context, runId: number, actor?: string): Promise<Run> {
  const db = ctx.database.knex;
  const run = await getRun(db, runId);
  await requireTransition(db, run, ['failed'], 'queued', { actor, message: 're-validating the same files', fields: { finished_at: null } });
  await audit(ctx, actor, 'run.revalidate', runId);
  await processQueue(ctx, { feedId: run.feedId });
  return getRun(db, runId);
}

function assertState(run: Run, allowed: RunState[], action: string) {
  if (!allowed.includes(run.state)) {
    throw invalidState(`run ${run.id} is ${run.state}; ${action} needs it to be ${allowed.join(' or ')}`, { state: run.state });
  }
}

/** Actions taken by a person are audited; the pipeline's own moves are in the run timeline. */
async function audit(ctx: Context, actor: string | undefined, action: string, runId: number, details?: Record<string, unknown>) {
  if (actor) await recordAudit(ctx.database.knex, { actor, action, target: `run ${runId}`, details });
}
