import { nextPullAfter, parseSchedule } from '../core/schedule.js';
import { fromDbTime, toDbTime, type Db } from '../storage/dialect.js';

export interface ScheduleSlots {
  /** A table with `feed_id` (unique), `schedule` and the next-time column. */
  table: string;
  nextColumn: string;
}

/**
 * Claims a feed's due slot of a schedule (pulls, exports): true once per slot across every
 * process, by moving the next time on with a conditional update. A new or changed schedule
 * starts from now (its first slot is the next occurrence); an inactive one is cleared.
 */
export async function claimDueSlot(
  db: Db,
  slots: ScheduleSlots,
  feedId: number,
  options: { scheduleText: string; active: boolean; notAfter?: Date | null; now: Date },
): Promise<boolean> {
  const { table, nextColumn } = slots;
  const { scheduleText, now } = options;
  const schedule = parseSchedule(scheduleText);
  const row = (await db(table).where({ feed_id: feedId }).first()) as Record<string, unknown> | undefined;
  if (schedule.kind === 'off' || !options.active) {
    if (row?.[nextColumn]) await db(table).where({ feed_id: feedId }).update({ schedule: null, [nextColumn]: null });
    return false;
  }
  const next = fromDbTime(row?.[nextColumn] ?? null);
  if (!row || !next || row.schedule !== scheduleText) {
    const first = toDbTime(nextPullAfter(schedule, now)!);
    if (row) await db(table).where({ feed_id: feedId }).update({ schedule: scheduleText, [nextColumn]: first });
    else await db(table).insert({ feed_id: feedId, schedule: scheduleText, [nextColumn]: first }).onConflict('feed_id').ignore();
    return false;
  }
  const due = new Date(next);
  if (due > now) return false;
  if (options.notAfter && due > options.notAfter) return false;
  const claimed = await db(table)
    .where({ feed_id: feedId, [nextColumn]: toDbTime(due) })
    .update({ [nextColumn]: toDbTime(nextPullAfter(schedule, now)!) });
  return claimed === 1;
}
