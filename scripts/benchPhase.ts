/**
 * One bench phase in its own process, so its peak RSS is its own: `sluice import` of a folder
 * into a feed (`node benchPhase.js <feed> <folder>`), reporting the time, the timings the run
 * itself recorded, its counts and what the directory holds for the feed afterwards.
 */
import { loadConfig } from '../src/config.js';
import { openContext } from '../src/context.js';
import { getFeed } from '../src/feeds/feeds.service.js';
import { runFromFolder } from '../src/pipeline/intake.js';
import { processQueue } from '../src/pipeline/queue.js';
import { getRun, runErrors, runEvents } from '../src/runs/runs.service.js';
import { countRows } from '../src/storage/database.js';
import type { DirectoryTotals } from './benchData.js';
import type { ChangeCounts } from '../src/core/changeCounts.js';
import type { HoldReason } from '../src/core/holds.js';

export interface PhaseResult {
  ms: number;
  maxRssMb: number;
  state: string;
  counts: ChangeCounts;
  errorCount: number;
  holdReasons: HoldReason[];
  /** The run's own "processed N rows in …" event: its validation / change set / apply split. */
  timings: string;
  /** The run's first errors and last events, when it did not apply. */
  notes: string[];
  directory: DirectoryTotals;
}

const [feedSlug, folder] = process.argv.slice(2) as [string, string];
const ctx = await openContext(loadConfig(), { migrate: false });
const db = ctx.database.knex;
const started = performance.now();
const feed = await getFeed(db, feedSlug);
const run = await runFromFolder(ctx, feed, folder, { keepSource: true });
await processQueue(ctx, { feedId: feed.id });
const ms = performance.now() - started;
// Everything below is after the clock stopped.
const maxRssMb = process.resourceUsage().maxRSS / 1024;
const done = await getRun(db, run.id);
const events = await runEvents(db, run.id);
const timings = events.find((e) => e.message.startsWith('processed'))?.message ?? '';
const notes: string[] = [];
if (done.state !== 'applied') {
  for (const e of await runErrors(db, run.id, { limit: 5 })) notes.push(`${e.file ?? ''}:${e.line ?? ''} ${e.text}`);
  for (const e of events.slice(-3)) notes.push(`event: ${e.message}`);
}
const users = db('directory_users').where({ feed_id: feed.id });
const directory: DirectoryTotals = {
  active: await countRows(users.clone().where({ state: 'active' })),
  suspended: await countRows(users.clone().where({ state: 'suspended' })),
  memberships: await countRows(db('directory_memberships').where({ feed_id: feed.id, managed: 1 })),
  groups: await countRows(db('directory_groups').where({ feed_id: feed.id })),
};
await ctx.database.close();
const result: PhaseResult = { ms, maxRssMb, state: done.state, counts: done.counts, errorCount: done.errorCount, holdReasons: done.holdReasons, timings, notes, directory };
process.send!(result);
