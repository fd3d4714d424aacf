import type { Context } from '../context.js';
import { nextPullAfter, parseSchedule } from '../core/schedule.js';
import { listFeeds, type Feed } from '../feeds/feeds.service.js';
import { log } from '../log.js';
import { fromDbTime, toDbTime } from '../storage/dialect.js';
import { exportAppChanges, type ExportResult } from './exports.service.js';

/**
 * One tick of the export schedule: every feed whose `exportSchedule` slot has come exports once.
 * The slot is claimed by moving `next_export_at` on with a conditional update, so several
 * processes never export one slot twice.
 */
export async function runScheduledExports(ctx: Context, now = new Date()): Promise<ExportResult[]> {
  const done: ExportResult[] = [];
  for (const feed of await listFeeds(ctx.database.knex)) {
    if (!(await claimDueSlot(ctx, feed, now))) continue;
    try {
      const result = await exportAppChanges(ctx, feed, `schedule (${feed.settings.exportSchedule})`);
      if (result) done.push(result);
    } catch (error) {
      log.error('scheduled export failed', { feed: feed.slug, error: String((error as Error)?.message ?? error) });
    }
  }
  return done;
}

async function claimDueSlot(ctx: Context, feed: Feed, now: Date): Promise<boolean> {
  const db = ctx.database.knex;
  const { exportSchedule: text, exportTo } = feed.settings;
  const schedule = parseSchedule(text);
  const row = (await db('export_schedules').where({ feed_id: feed.id }).first()) as { schedule: string | null; next_export_at: unknown } | undefined;
  if (schedule.kind === 'off' || !exportTo) {
    if (row?.next_export_at) await db('export_schedules').where({ feed_id: feed.id }).update({ schedule: null, next_export_at: null });
    return false;
  }
  const next = fromDbTime(row?.next_export_at ?? null);
  if (!row || !next || row.schedule !== text) {
    // A new or changed schedule starts from now: the first export is its next occurrence.
    const first = toDbTime(nextPullAfter(schedule, now)!);
    if (row) await db('export_schedules').where({ feed_id: feed.id }).update({ schedule: text, next_export_at: first });
    else await db('export_schedules').insert({ feed_id: feed.id, schedule: text, next_export_at: first }).onConflict('feed_id').ignore();
    return false;
  }
  const due = new Date(next);
  if (due > now) return false;
  const claimed = await db('export_schedules')
    .where({ feed_id: feed.id, next_export_at: toDbTime(due) })
    .update({ next_export_at: toDbTime(nextPullAfter(schedule, now)!) });
  return claimed === 1;
}
