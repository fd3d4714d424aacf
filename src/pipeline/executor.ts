import { setTimeout as delay } from 'node:timers/promises';
import type { Context } from '../context.js';
import { log } from '../log.js';
import { runMailTick } from '../mail/mailJob.js';
import { performRunRequests } from '../runs/runRequests.js';
import { processQueue } from './queue.js';
import type { WakeReason } from './wakeUp.js';

export interface ExecutorTimings {
  /** How often the queue is looked at without a wake-up: runs queued by other processes. */
  pollMs: number;
  /** How often mail is looked at without a wake-up: reports and digests that came due. */
  mailSweepMs: number;
  /** Whether this executor sends mail (one per process does). */
  mail?: boolean;
}

export const defaultTimings: ExecutorTimings = {
  pollMs: Number(process.env.SLUICE_QUEUE_POLL_MS ?? 2_000),
  mailSweepMs: Number(process.env.SLUICE_MAIL_SWEEP_MS ?? 30_000),
};

/**
 * Works the run queue for as long as the server lives. It sleeps until woken — a run queued in
 * this process — or until the next poll, which finds runs queued by other processes; each run is
 * claimed through the database, so several executors never take the same run. Mail goes out
 * after runs end, when it is queued, and on a slow sweep.
 */
export class RunExecutor {
  private wantRuns = true;
  private wantMail = true;
  private stopping = false;
  private wakeNow: AbortController = new AbortController();
  private lastMail = 0;
  /** Where an executor that sends no mail passes on mail it made due (a run that ended). */
  passMail: () => void = () => undefined;

  constructor(
    private readonly ctx: Context,
    private readonly timings: ExecutorTimings = defaultTimings,
  ) {}

  wake(reason: WakeReason): void {
    if (reason === 'run-queued') this.wantRuns = true;
    else this.wantMail = true;
    this.wakeNow.abort();
  }

  /** Ends the loop once the run in hand is done (an unfinished run is resumed from its lease). */
  stop(): void {
    this.stopping = true;
    this.wakeNow.abort();
  }

  async run(): Promise<void> {
    while (!this.stopping) {
      try {
        if (this.wantRuns) {
          this.wantRuns = false;
          // What people asked for on the admin page or the API first: they are watching.
          if ((await performRunRequests(this.ctx, () => this.stopping)) > 0) this.wantMail = true;
          if (this.stopping) break;
          if ((await processQueue(this.ctx)).length > 0) this.wantMail = true;
        }
        if (this.stopping) break;
        if (this.timings.mail === false) {
          if (this.wantMail) this.passMail();
          this.wantMail = false;
        }
        else if (this.wantMail || Date.now() - this.lastMail >= this.timings.mailSweepMs) {
          this.wantMail = false;
          this.lastMail = Date.now();
          await runMailTick(this.ctx);
        }
      } catch (error) {
        log.error('the run executor stopped with an error; trying again at the next poll', { error: String((error as Error)?.stack ?? error) });
      }
      if (this.stopping || this.wantRuns || this.wantMail) continue;
      const signal = this.wakeNow.signal;
      await delay(this.timings.pollMs, undefined, { signal }).then(
        () => (this.wantRuns = true),
        () => undefined,
      );
      if (signal.aborted) this.wakeNow = new AbortController();
    }
  }
}

/** How many executors a process runs: `SLUICE_EXECUTORS` (default 2), as the database allows. */
export function executorCount(ctx: Context): number {
  return Math.max(1, Math.min(ctx.database.dialect.maxExecutors, ctx.config.executors));
}

/**
 * Several executors side by side in one thread, so that one feed's long run does not hold up the
 * others' (a feed's runs still go one at a time: `claimNextRun`). Each works through its own
 * connections from the pool, so their transactions never mix; one of them sends the mail.
 */
export class RunExecutors {
  private readonly executors: RunExecutor[];

  constructor(ctx: Context, count = executorCount(ctx), timings: ExecutorTimings = defaultTimings) {
    this.executors = Array.from({ length: count }, (_, i) => new RunExecutor(ctx, { ...timings, mail: i === 0 }));
    for (const executor of this.executors.slice(1)) executor.passMail = () => this.executors[0]!.wake('mail-queued');
  }

  get size(): number {
    return this.executors.length;
  }

  wake(reason: WakeReason): void {
    for (const executor of this.executors) executor.wake(reason);
  }

  stop(): void {
    for (const executor of this.executors) executor.stop();
  }

  async run(): Promise<void> {
    await Promise.all(this.executors.map((executor) => executor.run()));
  }
}
