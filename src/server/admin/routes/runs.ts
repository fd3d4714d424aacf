import { Readable } from 'node:stream';
import type Router from '@koa/router';
import type { Context } from 'koa';
import { archiveKey } from '../../../archive/archive.js';
import type { Context as SluiceContext } from '../../../context.js';
import type { RunState } from '../../../core/feedSettings.js';
import { notFound } from '../../../errors.js';
import { getFeed, listFeeds } from '../../../feeds/feeds.service.js';
import { listRunChanges, type ChangeEntity } from '../../../runs/runChanges.service.js';
import { runChangesCsv, runErrorsCsv } from '../../../runs/runExports.js';
import { cachedRunFieldSummary } from '../../../runs/fieldSummary.service.js';
import { runMappingChange } from '../../../runs/mappingChange.service.js';
import { runProgress, runWorker } from '../../../runs/runs.presenter.js';
import { countRuns, getRun, listRuns, runErrorCodes, runErrors, runEvents, runFiles, type Run } from '../../../runs/runs.service.js';
import { idParam, need, pageParams, pager, render } from '../http.js';
import { actionsFor } from './runActions.js';

const RUNS_PER_PAGE = 50;
const CHANGES_PER_PAGE = 50;
const ERRORS_SHOWN = 100;
const allStates: RunState[] = ['receiving', 'queued', 'validating', 'held', 'applying', 'applied', 'failed', 'cancelled', 'superseded'];
const inProgress: RunState[] = ['receiving', 'queued', 'validating', 'applying'];
const changeKinds: { entity: ChangeEntity; op: string; label: string; count: (r: Run) => number }[] = [
  { entity: 'user', op: 'create', label: 'users created', count: (r) => r.counts.users.created },
  { entity: 'user', op: 'update', label: 'users updated', count: (r) => r.counts.users.updated },
  { entity: 'user', op: 'suspend', label: 'users suspended', count: (r) => r.counts.users.suspended },
  { entity: 'user', op: 'reactivate', label: 'users reactivated', count: (r) => r.counts.users.reactivated },
  { entity: 'user', op: 'delete', label: 'users deleted', count: (r) => r.counts.users.deleted },
  { entity: 'group', op: 'create', label: 'groups created', count: (r) => r.counts.groups.created },
  { entity: 'group', op: 'update', label: 'groups updated', count: (r) => r.counts.groups.updated },
  { entity: 'membership', op: 'add', label: 'memberships added', count: (r) => r.counts.memberships.added },
  { entity: 'membership', op: 'remove', label: 'memberships removed', count: (r) => r.counts.memberships.removed },
];

function download(ctx: Context, name: string, type: string, body: Readable | string) {
  ctx.type = type;
  ctx.attachment(name);
  ctx.body = body;
}

export function runRoutes(router: Router, sluice: SluiceContext) {
  const db = sluice.database.knex;

  router.get('/runs', need('viewer'), async (ctx) => {
    const feeds = await listFeeds(db);
    const feed = feeds.find((f) => f.slug === ctx.query.feed);
    const state = allStates.find((s) => s === ctx.query.state);
    const { page, limit, offset } = pageParams(ctx, RUNS_PER_PAGE);
    const filter = { feedId: feed?.id, states: state ? [state] : undefined };
    const slugOf = new Map(feeds.map((f) => [f.id, f.slug]));
    const [runs, total] = await Promise.all([listRuns(db, { ...filter, limit, offset }), countRuns(db, filter)]);
    render(ctx, 'runs', {
      title: 'Runs',
      runs: runs.map((run) => ({ ...run, feed: slugOf.get(run.feedId) })),
      feeds: feeds.map((f) => ({ slug: f.slug, selected: f.id === feed?.id })),
      states: allStates.map((s) => ({ name: s, selected: s === state })),
      pager: pager(ctx, page, RUNS_PER_PAGE, total),
    });
  });

  router.get('/runs/:id', need('viewer'), async (ctx) => {
    const run = await getRun(db, idParam(ctx, 'run'));
    const feed = await getFeed(db, run.feedId);
    // `change=user:suspend` from the filter form, or `entity=user&op=suspend` from a count's link.
    const [entityText, opText] = typeof ctx.query.change === 'string' ? ctx.query.change.split(':') : [ctx.query.entity, ctx.query.op];
    const entity = changeKinds.find((k) => k.entity === entityText)?.entity;
    const op = changeKinds.find((k) => k.entity === entity && k.op === opText)?.op;
    const search = typeof ctx.query.q === 'string' ? ctx.query.q.trim().slice(0, 320) : '';
    const { page, limit, offset } = pageParams(ctx, CHANGES_PER_PAGE);
    // While its change set is being written the page shows progress, not the rows: counting and
    // listing them waits for the writer (seconds on MySQL at a million rows).
    const writing = run.state === 'validating' || run.state === 'applying';
    const [events, errors, files, changes, fieldSummary, mappingChange, errorCodes] = await Promise.all([
      runEvents(db, run.id),
      runErrors(db, run.id, { limit: ERRORS_SHOWN }),
      runFiles(db, run.id),
      writing ? { total: 0, changes: [] } : listRunChanges(db, run.id, { entity, op, search }, { limit, offset }, search ? undefined : storedTotal(run, entity, op)),
      !writing && run.counts.users.updated + run.counts.users.reactivated > 0 ? cachedRunFieldSummary(db, sluice.database.dialect, run) : [],
      run.holdReasons.some((r) => r.rule === 'holdOnMappingChange') ? runMappingChange(db, run) : null,
      run.errorCount > 0 ? runErrorCodes(db, run.id) : [],
    ]);
    const live = inProgress.includes(run.state);
    render(ctx, 'run', {
      title: `Run ${run.id}`,
      refreshSeconds: live ? 2 : undefined,
      live,
      worker: runWorker(run),
      progress: runProgress(run),
      run,
      feed,
      events,
      current: events[events.length - 1],
      errors,
      errorCodes,
      // A failed run is about its errors: they lead, before the (empty) change counts.
      errorsFirst: run.state === 'failed' && run.errorCount > 0,
      // A run that failed before its change set was computed has only zeros to show.
      noChangeSet: run.state === 'failed' && changes.total === 0 && !entity && !search,
      moreErrors: run.errorCount > errors.length,
      files,
      controlFile: run.controlFile ? prettyJson(run.controlFile) : null,
      counts: changeKinds.map((k) => ({
        ...k,
        n: k.count(run),
        link: `/admin/runs/${run.id}?entity=${k.entity}&op=${k.op}#changes`,
        selected: k.entity === entity && k.op === op,
      })),
      unchanged: run.counts.users.unchanged,
      filterLabel: changeKinds.find((k) => k.entity === entity && k.op === op)?.label,
      fieldSummary,
      mappingChange,
      search,
      filtered: Boolean(entity || search),
      changeOptions: changeKinds.filter((k) => k.count(run) > 0 || (k.entity === entity && k.op === op)).map((k) => ({ value: `${k.entity}:${k.op}`, label: k.label, selected: k.entity === entity && k.op === op })),
      changes: changes.changes.map((c) => ({ ...c, opClass: opClass(c.op), lookupUrl: `/admin/users?exact=1&q=${encodeURIComponent(c.key)}` })),
      pager: pager(ctx, page, CHANGES_PER_PAGE, changes.total),
      actions: actionsFor(run),
    });
  });

  router.get('/runs/:id/changes.csv', need('viewer'), async (ctx) => {
    const run = await getRun(db, idParam(ctx, 'run'));
    download(ctx, `run-${run.id}-changes.csv`, 'text/csv; charset=utf-8', runChangesCsv(db, sluice.database.dialect, run.id));
  });

  router.get('/runs/:id/errors.csv', need('viewer'), async (ctx) => {
    const run = await getRun(db, idParam(ctx, 'run'));
    download(ctx, `run-${run.id}-errors.csv`, 'text/csv; charset=utf-8', runErrorsCsv(db, run.id));
  });

  router.get('/runs/:id/files/:name', need('viewer'), async (ctx) => {
    const run = await getRun(db, idParam(ctx, 'run'));
    const file = (await runFiles(db, run.id)).find((f) => f.name === ctx.params.name);
    if (!file || file.purged) throw notFound(`file of run ${run.id}`, String(ctx.params.name));
    const feed = await getFeed(db, run.feedId);
    ctx.length = file.size;
    download(ctx, file.name, 'application/octet-stream', sluice.archive.read(archiveKey(feed.slug, run.id, file.name)));
  });
}

/** Removals in red, additions in green: the colour says what happens to the user. */
function opClass(op: string): string {
  if (['suspend', 'delete', 'remove'].includes(op)) return 'op-remove';
  if (['create', 'add', 'reactivate'].includes(op)) return 'op-add';
  return 'op-change';
}

function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/**
 * The number of changes a filter by kind shows, from the counts stored with the change set
 * (they are its rows grouped by kind); undefined where only counting the rows can tell.
 */
function storedTotal(run: Run, entity: ChangeEntity | undefined, op: string | undefined): number | undefined {
  if (run.channel === 'app' || run.channel === 'export') return undefined;
  if (!entity) return changeKinds.reduce((sum, k) => sum + k.count(run), 0);
  return op ? changeKinds.find((k) => k.entity === entity && k.op === op)?.count(run) : undefined;
}
