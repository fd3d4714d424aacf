import { purgeExpiredFiles } from '../archive/retention.js';
import { pollAllS3Inboxes } from '../channels/s3Inbox.js';
import type { Context } from '../context.js';
import { failIncompleteRuns } from '../pipeline/receiving.js';
import { runScheduledExports } from '../exports/exportSchedule.js';
import { runScheduledPulls } from '../pull/pullSchedule.js';
import { pruneJobTicks } from './leases.js';
import { runTick, type JobSpec, type LongJob } from './runJob.js';
import { jobSchedule } from './schedule.js';

/** What each scheduled housekeeping job does at its tick. */
const work: Record<string, (ctx: Context) => Promise<unknown>> = {
  [jobSchedule.pollS3.name]: (ctx) => pollAllS3Inboxes(ctx),
  [jobSchedule.failIncomplete.name]: (ctx) => failIncompleteRuns(ctx, ctx.config.incompleteTimeoutMs),
  [jobSchedule.retention.name]: async (ctx) => {
    await purgeExpiredFiles(ctx);
    await pruneJobTicks(ctx.database.knex);
  },
  [jobSchedule.pullFeeds.name]: (ctx) => runScheduledPulls(ctx),
  [jobSchedule.exportApps.name]: (ctx) => runScheduledExports(ctx),
};

/**
 * The scheduled housekeeping, in one thread that lives as long as the server: a thread started
 * per tick cost more CPU than the ticks' work (loading the application, opening the database).
 * Each tick still runs once across all processes (runTick's lease); a job never overlaps itself.
 */
export class Housekeeping implements LongJob {
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly running = new Set<Promise<void>>();
  private done: () => void = () => {};

  constructor(private readonly ctx: Context) {}

  run(): Promise<void> {
    const jobs: JobSpec[] = Object.values(jobSchedule);
    for (const spec of jobs.filter((j) => !j.longLived)) {
      let busy = false;
      this.timers.push(
        setInterval(() => {
          if (busy) return;
          busy = true;
          const tick = runTick(this.ctx, spec, work[spec.name]!).finally(() => {
            busy = false;
            this.running.delete(tick);
          });
          this.running.add(tick);
        }, spec.intervalMs),
      );
    }
    return new Promise((resolve) => (this.done = resolve));
  }

  /** No new ticks; the ones running finish their step. */
  stop(): void {
    for (const timer of this.timers) clearInterval(timer);
    void Promise.allSettled([...this.running]).then(() => this.done());
  }
}
