import { CronExpressionParser } from 'cron-parser';
import { invalidSetting } from '../errors.js';

/** When a feed pulls from its source on its own (feed setting `schedule`), in UTC. */
export type Schedule = { kind: 'off' } | { kind: 'hourly' } | { kind: 'daily'; minutes: number } | { kind: 'cron'; expression: string };

/** `off`, `hourly`, `daily 06:30`, or a five-field cron expression such as `30 6 * * 1-5`. */
export function parseSchedule(text: string): Schedule {
  const value = text.trim();
  if (value === '' || value === 'off') return { kind: 'off' };
  if (value === 'hourly') return { kind: 'hourly' };
  const daily = /^daily(?:\s+(\d{1,2}):(\d{2}))?$/.exec(value);
  if (daily) {
    const [hours, minutes] = [Number(daily[1] ?? 0), Number(daily[2] ?? 0)];
    if (hours > 23 || minutes > 59) throw invalidSetting(`schedule "${value}": the time of day must be 00:00 to 23:59`);
    return { kind: 'daily', minutes: hours * 60 + minutes };
  }
  if (value.split(/\s+/).length !== 5) throw invalidSetting(`schedule must be off, hourly, "daily HH:MM" or a cron expression of five fields (got "${value}")`);
  try {
    CronExpressionParser.parse(value, { tz: 'UTC' });
  } catch (error) {
    throw invalidSetting(`schedule "${value}" is not a valid cron expression: ${(error as Error).message}`);
  }
  return { kind: 'cron', expression: value };
}

/** The first time strictly after `after` at which the schedule fires, or null when it is off. */
export function nextPullAfter(schedule: Schedule, after: Date): Date | null {
  switch (schedule.kind) {
    case 'off':
      return null;
    case 'hourly': {
      const next = new Date(after);
      next.setUTCMinutes(0, 0, 0);
      next.setUTCHours(next.getUTCHours() + 1);
      return next;
    }
    case 'daily': {
      const next = new Date(Date.UTC(after.getUTCFullYear(), after.getUTCMonth(), after.getUTCDate(), 0, schedule.minutes));
      if (next <= after) next.setUTCDate(next.getUTCDate() + 1);
      return next;
    }
    case 'cron':
      return CronExpressionParser.parse(schedule.expression, { currentDate: after, tz: 'UTC' }).next().toDate();
  }
}
