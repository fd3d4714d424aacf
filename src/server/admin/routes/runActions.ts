import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Context as SluiceContext } from '../../../context.js';
import type { RunState } from '../../../core/feedSettings.js';
import { notFound, SluiceError } from '../../../errors.js';
import { getFeed } from '../../../feeds/feeds.service.js';
import { approveRun, cancelRun, isSourceRun, reapplyRun, revalidateRun } from '../../../runs/runActions.js';
import { runWorker } from '../../../runs/runs.presenter.js';
import { getRun, type Run } from '../../../runs/runs.service.js';
import { requestRunWork, type RunWorkAction } from '../../../runs/runRequests.js';
import type { BackgroundWork } from '../../backgroundWork.js';
import { flash, idParam, need, render, stateOf } from '../http.js';
import { commentOnRun, MAX_COMMENT_LENGTH } from '../../../runs/runComments.js';

interface RunAction {
  name: string;
  label: string;
  from: RunState[];
  /** Shown on the confirmation page; actions without one happen at once. */
  confirm?: (run: Run) => string;
  danger?: boolean;
  /** Whether the button makes sense for this run (its state allows more than is useful). */
  offered?: (run: Run) => boolean;
  perform(ctx: SluiceContext, run: Run, actor: string): Promise<Run>;
  /** Work a run executor does, when this process has one: the page only asks for it. */
  executorDoes?: RunWorkAction;
}

/** The actions of PRODUCT §6, as buttons. All need the operator role. */
const runActions: RunAction[] = [
  {
    name: 'apply',
    label: 'Apply',
    from: ['held'],
    confirm: (run) =>
      `Apply run ${run.id} to the directory. If the directory changed since this change set was computed, it is recomputed and held again instead.`,
    perform: (ctx, run, actor) => approveRun(ctx, run.id, actor),
    executorDoes: 'apply',
  },
  {
    name: 'cancel',
    label: 'Cancel',
    from: ['receiving', 'queued', 'held'],
    danger: true,
    confirm: (run) => `Cancel run ${run.id}. Nothing of it is applied; its files stay downloadable and it can be re-applied later.`,
    perform: (ctx, run, actor) => cancelRun(ctx, run.id, { actor }),
  },
  {
    name: 'mark-cancelled',
    label: 'Mark cancelled (unsafe)',
    from: ['validating', 'applying'],
    danger: true,
    confirm: (run) =>
      `Run ${run.id} is marked cancelled while it is ${run.state}. ${
        runWorker(run)?.alive
          ? `A live worker (${run.leaseOwner}) holds it: it stops at its next batch and rolls back what it has not committed.`
          : 'No live worker holds it (its lease ran out): the worker died or hangs, and stops if it wakes.'
      } Nothing uncommitted is kept; the next run is computed from the real directory.`,
    perform: (ctx, run, actor) => cancelRun(ctx, run.id, { actor, unsafe: true }),
  },
  {
    name: 'reapply',
    label: 'Re-apply',
    from: ['applied', 'failed', 'cancelled', 'superseded'],
    // Files that failed validation fail again: re-apply only what failed while applying. An
    // application's run has no files of the source to re-apply.
    offered: (run) => isSourceRun(run) && (run.state !== 'failed' || run.errorCount === 0),
    confirm: (run) =>
      `Copy run ${run.id}'s files into a new run and process it with forceUpdate: every record is written again, restoring the directory to this run's snapshot. The new run is held if a safety rule trips.`,
    perform: (ctx, run, actor) => reapplyRun(ctx, run.id, actor),
    executorDoes: 'reapply',
  },
  {
    name: 'revalidate',
    label: 'Re-validate',
    from: ['failed'],
    perform: (ctx, run, actor) => revalidateRun(ctx, run.id, actor),
    executorDoes: 'revalidate',
  },
];

export const actionsFor = (run: Run) => runActions.filter((a) => a.from.includes(run.state) && (a.offered?.(run) ?? true)).map(({ name, label, danger, confirm }) => ({ name, label, danger, confirm: Boolean(confirm) }));

export function runActionRoutes(router: Router, sluice: SluiceContext, background: BackgroundWork) {
  const db = sluice.database.knex;
  /** The action and its run, if the run's state allows it. */
  const find = async (ctx: Context) => {
    const action = runActions.find((a) => a.name === ctx.params.action);
    if (!action) throw notFound('action', String(ctx.params.action));
    const run = await getRun(db, idParam(ctx, 'run'));
    if (!action.from.includes(run.state)) {
      throw new SluiceError('invalid_state', `run ${run.id} is ${run.state}; ${action.label.toLowerCase()} needs it to be ${action.from.join(' or ')}`);
    }
    return { action, run };
  };

  router.get('/runs/:id/confirm/:action', need('operator'), async (ctx) => {
    const { action, run } = await find(ctx);
    const feed = await getFeed(db, run.feedId);
    render(ctx, 'confirm', {
      title: `${action.label} run ${run.id} of ${feed.slug}?`,
      text: action.confirm?.(run),
      postTo: `/admin/runs/${run.id}/${action.name}`,
      // The same counts, worded and formatted as on the run page, so nobody confirms blind.
      counts: countLines(run),
      commentMax: MAX_COMMENT_LENGTH,
      button: action.label,
      danger: action.danger,
      back: `/admin/runs/${run.id}`,
    });
  });

  router.post('/runs/:id/:action', need('operator'), async (ctx) => {
    const page = `/admin/runs/${idParam(ctx, 'run')}`;
    try {
      const { action, run } = await find(ctx);
      const actor = stateOf(ctx).session!.admin.email;
      await commentOnRun(db, run.id, actor, action.name, stateOf(ctx).form?.get('comment') ?? '');
      if (action.executorDoes && background.executorRunning) {
        await requestRunWork(sluice, { action: action.executorDoes, runId: run.id, feedId: run.feedId, actor });
        flash(ctx, 'ok', `${action.label}: started; this page follows its progress.`);
        return ctx.redirect(page);
      }
      const outcome = await background.start(`${action.name} run ${run.id}`, () => action.perform(sluice, run, actor));
      if (outcome.pending) {
        flash(ctx, 'ok', `${action.label}: started; this page follows its progress.`);
        return ctx.redirect(page);
      }
      const result = outcome.value;
      flash(ctx, 'ok', result.id === run.id ? `${action.label}: run ${run.id} is now ${result.state}.` : `${action.label}: new run ${result.id} is ${result.state}.`);
      ctx.redirect(`/admin/runs/${result.id}`);
    } catch (error) {
      // A refused action (the run moved on, another admin was quicker) is told on the run's page.
      if (!(error instanceof SluiceError) || error.code === 'not_found') throw error;
      flash(ctx, 'error', error.message);
      ctx.redirect(page);
    }
  });
}

function countLines(run: Run) {
  const n = (v: number) => v.toLocaleString('en');
  const { users, groups, memberships } = run.counts;
  return [
    { label: 'users created', n: n(users.created), cls: 'op-add' },
    { label: 'users updated', n: n(users.updated), cls: 'op-change' },
    { label: 'users reactivated', n: n(users.reactivated), cls: 'op-add' },
    { label: 'users suspended', n: n(users.suspended), cls: 'op-remove' },
    { label: 'users deleted', n: n(users.deleted), cls: 'op-remove' },
    { label: 'groups created', n: n(groups.created), cls: 'op-add' },
    { label: 'groups updated', n: n(groups.updated), cls: 'op-change' },
    { label: 'memberships added', n: n(memberships.added), cls: 'op-add' },
    { label: 'memberships removed', n: n(memberships.removed), cls: 'op-remove' },
  ];
}
