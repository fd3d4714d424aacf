import type { RunState } from '../../core/feedSettings.js';
import { usageError } from '../../errors.js';
import { getFeed } from '../../feeds/feeds.service.js';
import { approveRun, cancelRun, reapplyRun, revalidateRun } from '../../runs/runActions.js';
import { listRunChanges, type ChangeEntity, type RunChange } from '../../runs/runChanges.service.js';
import { getRun, listRuns, runEvents } from '../../runs/runs.service.js';
import { EXIT, exitCodeForRun, fieldsText, printJson, printRun } from '../output.js';
import { ProgressLine, withProgressLine } from '../progressLine.js';
import type { Context } from '../../context.js';
import { cliActor, limitOption, positional, present, runId, withContext, type Command } from './shared.js';

const states: RunState[] = ['receiving', 'queued', 'validating', 'failed', 'held', 'applying', 'applied', 'cancelled', 'superseded'];

export const runsCommand: Command = {
  summary: 'runs [--feed F] [--state S] [--limit N]: runs, newest first',
  options: { feed: { type: 'string' }, state: { type: 'string' }, limit: { type: 'string' } },
  async run(input) {
    const state = input.options.state as RunState | undefined;
    if (state && !states.includes(state)) throw usageError(`--state must be one of ${states.join(', ')}`);
    return withContext(input, async (ctx) => {
      const db = ctx.database.knex;
      const feed = input.options.feed ? await getFeed(db, input.options.feed as string) : undefined;
      const runs = await listRuns(db, { feedId: feed?.id, states: state ? [state] : undefined, limit: limitOption(input, 50) });
      const presented = await Promise.all(runs.map((r) => present(ctx, r)));
      if (input.json) printJson(presented);
      else for (const run of presented) printRun(run);
      return EXIT.done;
    });
  },
};

export const runCommand: Command = {
  summary:
    'run show|apply|cancel|reapply|revalidate <id> [--unsafe] [--all-errors] [--changes OP [--limit N]] [--watch]: one run and its actions; --changes suspend lists the users the run suspends (any operation: create, update, reactivate, delete, add, remove, group:create…); show --watch follows a run in progress to its end',
  options: { unsafe: { type: 'boolean' }, 'all-errors': { type: 'boolean' }, changes: { type: 'string' }, limit: { type: 'string' }, watch: { type: 'boolean' } },
  async run(input) {
    const action = positional(input, 0, 'show|apply|cancel|reapply|revalidate');
    const id = runId(input, 1);
    const actor = cliActor();
    const changeFilter = input.options.changes === undefined ? undefined : changeFilterOf(String(input.options.changes));
    const limit = Number(input.options.limit ?? 1000);
    if (!Number.isInteger(limit) || limit < 1) throw usageError('--limit must be a whole number from 1');
    return withContext(input, async (ctx) => {
      const db = ctx.database.knex;
      const run =
        action === 'show' ? await (input.options.watch ? watchRun(ctx, id) : getRun(db, id))
        : action === 'apply' ? await withProgressLine(ctx, () => id, approveRun(ctx, id, actor))
        : action === 'cancel' ? await cancelRun(ctx, id, { actor, unsafe: Boolean(input.options.unsafe) })
        : action === 'reapply' ? await withProgressLine(ctx, () => id, reapplyRun(ctx, id, actor))
        : action === 'revalidate' ? await revalidateRun(ctx, id, actor)
        : null;
      if (!run) throw usageError(`unknown run action "${action}"; use show, apply, cancel, reapply or revalidate`);
      const presented = await present(ctx, run, input.options['all-errors'] ? Number.MAX_SAFE_INTEGER : undefined);
      const changes = changeFilter && action === 'show' ? await listRunChanges(db, id, changeFilter, { limit, offset: 0 }) : undefined;
      if (input.json) printJson(action === 'show' ? { ...presented, timeline: await runEvents(db, id), ...(changes ? { changes: changes.changes, changesTotal: changes.total } : {}) } : presented);
      else {
        printRun(presented);
        if (action === 'show') for (const e of await runEvents(db, id)) process.stdout.write(`  ${e.at}  ${e.message}${e.actor ? ` (${e.actor})` : ''}\n`);
        if (changes) printChanges(changes.changes, changes.total, `${changeFilter!.entity}:${changeFilter!.op}`);
      }
      // A cancel that happened is a success; every other verb exits by the state the run reached.
      return action === 'cancel' ? EXIT.done : exitCodeForRun(presented);
    });
  },
};

const userOps = ['create', 'update', 'suspend', 'reactivate', 'delete'];
const changeOps: Record<string, string[]> = { user: userOps, group: ['create', 'update'], membership: ['add', 'remove'] };

/** `suspend`, `remove` or `group:create`: a bare operation is a user's, or a membership's for add/remove. */
function changeFilterOf(text: string): { entity: ChangeEntity; op: string } {
  const [first, second] = text.split(':');
  const entity = (second ? first : ['add', 'remove'].includes(first!) ? 'membership' : 'user') as ChangeEntity;
  const op = second ?? first!;
  if (!changeOps[entity]?.includes(op)) throw usageError(`--changes must be one of ${[...userOps, 'add', 'remove', 'group:create', 'group:update'].join(', ')}; got "${text}"`);
  return { entity, op };
}

function printChanges(changes: RunChange[], total: number, label: string) {
  process.stdout.write(`${label}: ${total} ${total === 1 ? 'change' : 'changes'}${total > changes.length ? `, the first ${changes.length} shown (--limit)` : ''}\n`);
  for (const c of changes) {
    const who = c.person ? `  ${[c.person.name, c.person.email ? `<${c.person.email}>` : ''].filter(Boolean).join(' ')}` : '';
    const fields = fieldsText(c.fields);
    process.stdout.write(`  ${c.key}${c.groupCode ? ` in ${c.groupCode}` : ''}${who}${fields ? `  (${fields})` : ''}\n`);
  }
}

/** Follows a run until it leaves the receiving, queued and working states, showing its progress. */
async function watchRun(ctx: Context, id: number) {
  const line = new ProgressLine(true);
  for (;;) {
    const run = await getRun(ctx.database.knex, id);
    if (!['receiving', 'queued', 'validating', 'applying'].includes(run.state)) {
      line.end();
      return run;
    }
    line.show(run.state, run.progress);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}
