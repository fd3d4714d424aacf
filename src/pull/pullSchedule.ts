import type { Context } from '../context.js';
import { nextPullAfter, parseSchedule } from '../core/schedule.js';
import { listFeeds, type Feed } from '../feeds/feeds.service.js';
import { log } from '../log.js';
import type { Run } from '../runs/runs.service.js';
import { fromDbTime, toDbTime } from '../storage/dialect.js';
import { pullFeed } from './pullFeed.js';

/**
 * One tick of the pull schedule: every feed whose next pull time has come pulls once. The slot
 * is claimed by moving `next_pull_at` on with a conditional update, so across several processes
 * (and ticks) each scheduled pull happens once. After `finalSyncAt` scheduled pulls stop.
 */
export async function runScheduledPulls(ctx: Context, now = new Date()): Promise<Run[]> {
  const runs: Run[] = [];
  for (const feed of await listFeeds(ctx.database.knex)) {
    const slot = await claimDueSlot(ctx, feed, now);
    if (!slot) continue;
    try {
      runs.push(await pullFeed(ctx, feed, `schedule (${feed.settings.schedule})`));
    } catch (error) {
      log.error('scheduled pull could not start', { feed: feed.slug, error: String((error as Error)?.message ?? error) });
    }
  }
  return runs;
}

async function claimDueSlot(ctx: Context, feed: Feed, now: Date): Promise<boolean> {
  const db = ctx.database.knex;
  const { schedule: text, pullUrl, finalSyncAt } = feed.settings;
  const schedule = parseSchedule(text);
  const row = (await db('feed_pulls').where({ feed_id: feed.id }).first()) as { schedule: string | null; next_pull_at: unknown } | undefined;
  if (schedule.kind === 'off' || !pullUrl) {
    if (row?.next_pull_at) await db('feed_pulls').where({ feed_id: feed.id }).update({ schedule: null, next_pull_at: null });
    return false;
  }
  const next = fromDbTime(row?.next_pull_at ?? null);
  if (!row || !next || row.schedule !== text) {
    // A new or changed schedule starts from now: the first pull is its next occurrence.
    const first = toDbTime(nextPullAfter(schedule, now)!);
    if (row) await db('feed_pulls').where({ feed_id: feed.id }).update({ schedule: text, next_pull_at: first });
    else await db('feed_pulls').insert({ feed_id: feed.id, schedule: text, next_pull_at: first }).onConflict('feed_id').ignore();
    return false;
  }
  const due = new Date(next);
  if (due > now) return false;
  if (finalSyncAt && due > new Date(finalSyncAt)) return false;
  const claimed = await db('feed_pulls')
    .where({ feed_id: feed.id, next_pull_at: toDbTime(due) })
    .update({ next_pull_at: toDbTime(nextPullAfter(schedule, now)!) });
  return claimed === 1;
}
