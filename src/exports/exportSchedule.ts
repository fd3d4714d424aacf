import type { Context } from '../context.js';
import { listFeeds } from '../feeds/feeds.service.js';
import { claimDueSlot } from '../jobs/scheduleSlots.js';
import { log } from '../log.js';
import { exportAppChanges, type ExportResult } from './exports.service.js';

/**
 * One tick of the export schedule: every feed whose `exportSchedule` slot has come exports once.
 * The slot is claimed by moving `next_export_at` on with a conditional update, so several
 * processes never export one slot twice.
 */
export async function runScheduledExports(ctx: Context, now = new Date()): Promise<ExportResult[]> {
  const done: ExportResult[] = [];
  for (const feed of await listFeeds(ctx.database.knex)) {
    const slot = await claimDueSlot(ctx.database.knex, { table: 'export_schedules', nextColumn: 'next_export_at' }, feed.id, {
      scheduleText: feed.settings.exportSchedule,
      active: !!feed.settings.exportTo,
      now,
    });
    if (!slot) continue;
    try {
      const result = await exportAppChanges(ctx, feed, `schedule (${feed.settings.exportSchedule})`);
      if (result) done.push(result);
    } catch (error) {
      log.error('scheduled export failed', { feed: feed.slug, error: String((error as Error)?.message ?? error) });
    }
  }
  return done;
}
