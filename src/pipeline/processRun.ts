import type { Context } from '../context.js';
import { mappingFingerprint, parseControlFile } from '../core/control/controlFile.js';
import type { ControlFile } from '../core/control/types.js';
import { holdReasons, tooManyErrors } from '../core/holds.js';
import { setProblem } from '../core/problems.js';
import { getFeed, type Feed } from '../feeds/feeds.service.js';
import { log } from '../log.js';
import { addRunEvent, getRun, recordProblems, supersedeOlderRuns, transition, updateRunFields, type Run } from '../runs/runs.service.js';
import { applyChangeSet, BaselineMovedError } from './apply.js';
import { computeChangeSet } from './changeSet.js';
import { keepAppOwnedFields, keepUnexportedAppUsers } from '../apps/appOwned.js';
import { countRows } from '../storage/database.js';
import { faultPoint } from './faults.js';
import { PhaseTimer } from './phaseTimer.js';
import { noteNewerRunFailed } from '../runs/newerRuns.js';
import { checkRunOwned, currentProgress, leaseFields, RunLostError } from './runLease.js';
import { stageRun } from './stage.js';
import { checkStagedSet, clearStaging } from './stagingChecks.js';

/**
 * Takes a claimed run (state `validating`) through validation, the change set and the hold
 * rules, to `failed`, `held` or — through `applying` — `applied`.
 */
export async function processRun(ctx: Context, runId: number): Promise<Run> {
  const db = ctx.database.knex;
  const run = await getRun(db, runId);
  const feed = await getFeed(db, run.feedId);
  const timer = new PhaseTimer();
  const checked = await validateRun(ctx, run, feed);
  timer.lap('validation');
  await faultPoint('validate:after-staging');
  if (!checked.control || checked.failure) {
    const failed = await fail(ctx, run.id, 'validating', checked.failure);
    if ((checked.control?.mode ?? run.mode) !== 'delta') await noteNewerRunFailed(db, failed);
    return failed;
  }

  const control = checked.control;
  await checkRunOwned();
  if (control.mode === 'full') await supersedeOlder(ctx, run);
  await updateRunFields(db, run.id, { mode: control.mode, mapping_hash: mappingFingerprint(control) });
  const outcome = await judge(ctx, run.id, feed, control, 'validating', checked);
  timer.lap('change set');
  if (outcome === 'apply') {
    await applyRun(ctx, run.id, { from: 'validating' });
    timer.lap('apply');
  }
  await checkRunOwned();
  await addRunEvent(db, run.id, `processed ${checked.rowCount} rows in ${timer.summary()}`);
  log.info('run processed', { run: run.id, feed: feed.slug, rows: checked.rowCount, errorRows: checked.errorRows, phases: timer.phases });
  return getRun(db, run.id);
}

export interface ValidationOutcome {
  control?: ControlFile;
  rowCount: number;
  errorRows: number;
  /** Why the set fails as a whole, if it does. */
  failure?: string;
  /** What reading showed about who is present, for the hold rules. */
  unreadableKeys: number;
  emptyUsersFiles: string[];
  absentUsers: number;
}

/**
 * Both tiers of validation: reads the set into staging, runs the whole-set checks and the error
 * limits. Writes only staging and `run_errors` — never the directory.
 */
export async function validateRun(ctx: Context, run: Run, feed: Feed): Promise<ValidationOutcome> {
  const db = ctx.database.knex;
  currentProgress()?.enter('validating');
  await clearStaging(ctx, run.id);
  await db('run_errors').where({ run_id: run.id }).delete();
  const staged = await stageRun(ctx, run, feed);
  const membershipFiles = Object.entries(staged.control?.files ?? {}).filter(([, f]) => f.type === 'memberships').map(([name]) => name);
  await checkRunOwned();
  currentProgress()?.enter('checking the set');
  const rejected = staged.setProblems ? 0 : await checkStagedSet(ctx, run.id, membershipFiles);
  const errorRows = staged.errorRows + rejected;
  let failure = staged.setProblems ? `${staged.setProblems} problem(s) with the upload set; nothing was written` : undefined;
  const limitMessage = failure ? null : tooManyErrors(feed.settings, errorRows, staged.rowCount);
  if (limitMessage) {
    await recordProblems(db, ctx.database.dialect, run.id, [setProblem('too_many_errors', limitMessage)]);
    failure = limitMessage;
  }
  const errorCount = await countRows(db('run_errors').where({ run_id: run.id }));
  await checkRunOwned();
  await updateRunFields(db, run.id, { row_count: staged.rowCount, error_count: errorCount, unchanged_rows: staged.unchangedRows });
  const { unreadableKeys, emptyUsersFiles, absentUsers } = staged;
  return { control: staged.control, rowCount: staged.rowCount, errorRows, failure, unreadableKeys, emptyUsersFiles, absentUsers };
}

async function fail(ctx: Context, runId: number, from: 'validating' | 'applying', message = 'the upload set is invalid; nothing was written'): Promise<Run> {
  await checkRunOwned();
  await clearStaging(ctx, runId);
  await transition(ctx.database.knex, runId, [from], 'failed', { message });
  return getRun(ctx.database.knex, runId);
}

/** Computes the change set against the current baseline and applies the hold rules. */
async function judge(ctx: Context, runId: number, feed: Feed, control: ControlFile, from: 'validating' | 'applying', checked: ValidationOutcome) {
  const db = ctx.database.knex;
  const run = await getRun(db, runId);
  const baselineVersion = (await getFeed(db, feed.id)).directoryVersion;
  const settings = { ...feed.settings, forceUpdate: feed.settings.forceUpdate || run.forceUpdate };
  currentProgress()?.enter('computing the change set');
  await keepAppOwnedFields(db, runId, feed.id, Object.keys(control.users?.fields ?? {}), settings.appOwnedFields);
  if (control.mode === 'full') await keepUnexportedAppUsers(db, runId, feed.id);
  const summary = await computeChangeSet(ctx, db, { runId, feedId: feed.id, mode: control.mode, settings, unchangedRows: run.unchangedRows });
  await checkRunOwned();
  // An application's changes and their exports (`app`, `export` runs) carry no mapping: the source's last run is the reference.
  const lastApplied = await db('runs').where({ feed_id: feed.id, state: 'applied' }).whereNotIn('channel', ['app', 'export']).orderBy('finished_at', 'desc').orderBy('id', 'desc').first('mapping_hash');
  const reasons = holdReasons({
    settings,
    counts: summary.counts,
    baseline: summary.baseline,
    feedHasAppliedRun: !!lastApplied,
    mappingChanged: !!lastApplied && lastApplied.mapping_hash !== run.mappingHash,
    mode: control.mode,
    reading: {
      unreadableKeys: checked.unreadableKeys,
      emptyUsersFiles: checked.emptyUsersFiles,
      absentUsers: settings.onMissing === 'keep' ? 0 : checked.absentUsers,
      emptyOnPurpose: control.emptyOnPurpose === true,
    },
  });
  await updateRunFields(db, runId, {
    counts: JSON.stringify(summary.counts),
    baseline_version: baselineVersion,
    hold_reasons: JSON.stringify(reasons),
  });
  if (reasons.length === 0) return 'apply' as const;
  await transition(db, runId, [from], 'held', { message: `held: ${reasons.map((r) => r.message).join('; ')}` });
  return 'held' as const;
}

/**
 * Applies a run's stored change set. From `held` this is an administrator's approval; from
 * `validating` it is automatic. If the directory moved since the change set was computed, the
 * change set is recomputed and judged again instead of applying something nobody reviewed.
 */
export async function applyRun(ctx: Context, runId: number, options: { from: 'validating' | 'held' | 'applying'; actor?: string }): Promise<Run> {
  const db = ctx.database.knex;
  let run = await getRun(db, runId);
  const feed = await getFeed(db, run.feedId);
  const control = parseControlFile(run.controlFile ?? '', { feed: feed.slug }).control;
  if (!control) throw new Error(`run ${runId} has no valid control file stored`);
  if (options.from !== 'applying') {
    const moved = await transition(db, runId, [options.from], 'applying', {
      actor: options.actor,
      message: options.from === 'held' ? 'approved; applying' : 'applying',
      fields: leaseFields(ctx),
    });
    if (!moved) return getRun(db, runId);
  }
  for (let attempt = 0; ; attempt++) {
    run = await getRun(db, runId);
    await checkRunOwned();
    const progress = currentProgress();
    progress?.enter('applying', totalChanges(run));
    try {
      await db.transaction(async (trx) => {
        progress?.inTransaction(true);
        await applyChangeSet(ctx, trx, { runId, feedId: feed.id, baselineVersion: run.baselineVersion ?? -1, forceUpdate: run.forceUpdate || feed.settings.forceUpdate, control, counts: run.counts, unchangedRows: run.unchangedRows });
        const done = await transition(trx, runId, ['applying'], 'applied', { message: `applied ${describeCounts(run)}` });
        if (!done) throw new RunLostError(runId, 'it left the applying state while it was being applied; rolled back');
      }).finally(() => progress?.inTransaction(false));
      break;
    } catch (error) {
      if (!(error instanceof BaselineMovedError) || attempt >= 2) throw error;
      await addRunEvent(db, runId, 'the directory changed since this change set was computed; reading the files again and recomputing it');
      // Skipped records and absent users were judged against the old baseline: stage afresh.
      const current = await getFeed(db, feed.id);
      const checked = await validateRun(ctx, await getRun(db, runId), current);
      if (checked.failure || !checked.control) return fail(ctx, runId, 'applying', checked.failure);
      const outcome = await judge(ctx, runId, current, control, 'applying', checked);
      if (outcome === 'held') return getRun(db, runId);
      if (options.from === 'held') {
        await transition(db, runId, ['applying'], 'held', { message: 'the recomputed change set must be reviewed again before it is applied' });
        return getRun(db, runId);
      }
    }
  }
  await clearStaging(ctx, runId);
  return getRun(db, runId);
}

const totalChanges = ({ counts: { users: u, groups: g, memberships: m } }: Run) =>
  u.created + u.updated + u.suspended + u.reactivated + u.deleted + g.created + g.updated + m.added + m.removed;

/** In words: the symbols this once used were cryptic, and some fonts have no glyph for them. */
const describeCounts = (run: Run) => {
  const { users: u, groups: g, memberships: m } = run.counts;
  const part = (what: string, counts: [number, string][]) => {
    const made = counts.filter(([n]) => n > 0).map(([n, verb]) => `${n.toLocaleString('en-US')} ${verb}`);
    return made.length ? `${what} ${made.join(', ')}` : null;
  };
  const parts = [
    part('users', [[u.created, 'created'], [u.updated, 'updated'], [u.suspended, 'suspended'], [u.reactivated, 'reactivated'], [u.deleted, 'deleted']]),
    part('groups', [[g.created, 'created'], [g.updated, 'updated']]),
    part('memberships', [[m.added, 'added'], [m.removed, 'removed']]),
  ].filter(Boolean);
  return parts.length ? `(${parts.join('; ')})` : '(nothing changed)';
};

export { leaseUntil } from './runLease.js';

async function supersedeOlder(ctx: Context, run: Run) {
  for (const id of await supersedeOlderRuns(ctx.database.knex, run.feedId, run.id)) await clearStaging(ctx, id);
}
