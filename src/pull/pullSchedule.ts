import type { Context } from '../context.js';
import { listFeeds } from '../feeds/feeds.service.js';
import { claimDueSlot } from '../jobs/scheduleSlots.js';
import { log } from '../log.js';
import type { Run } from '../runs/runs.service.js';
import { pullFeed } from './pullFeed.js';

/**
 * One tick of the pull schedule: every feed whose next pull time has come pulls once. The slot
 * is claimed by moving `next_pull_at` on with a conditional update, so across several processes
 * (and ticks) each scheduled pull happens once. After `finalSyncAt` scheduled pulls stop.
 */
export async function runScheduledPulls(ctx: Context, now = new Date()): Promise<Run[]> {
  const runs: Run[] = [];
  for (const feed of await listFeeds(ctx.database.knex)) {
    const { schedule, pullUrl, finalSyncAt } = feed.settings;
    const slot = await claimDueSlot(ctx.database.knex, { table: 'feed_pulls', nextColumn: 'next_pull_at' }, feed.id, {
      scheduleText: schedule,
      active: !!pullUrl,
      notAfter: finalSyncAt ? new Date(finalSyncAt) : null,
      now,
    });
    if (!slot) continue;
    try {
      runs.push(await pullFeed(ctx, feed, `schedule (${feed.settings.schedule})`));
    } catch (error) {
      log.error('scheduled pull could not start', { feed: feed.slug, error: String((error as Error)?.message ?? error) });
    }
  }
  return runs;
}
