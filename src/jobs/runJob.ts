import { parentPort, workerData } from 'node:worker_threads';
import { loadConfig, type Config } from '../config.js';
import { openContext, type Context } from '../context.js';
import { log } from '../log.js';
import { announceThrough, wakeFromMessage, type WakeReason } from '../pipeline/wakeUp.js';
import { claimJobTick, recordJobTick, releaseJobLease } from './leases.js';

export interface JobSpec {
  name: string;
  /** How often it runs; one tick of this length runs once across all processes. */
  intervalMs: number;
  /** Whether every process may run it at once (work that claims its own items, like runs). */
  everyProcess?: boolean;
  /** A thread of its own that Bree starts once and that lives until the server stops. */
  longLived?: boolean;
}

/** A job that lives as long as the server: started once by Bree, stopped by its 'cancel'. */
export interface LongJob {
  run(): Promise<void>;
  stop(): void;
  wake?(reason: WakeReason): void;
}

/**
 * One tick of a scheduled job: take this tick's lease (so that several `sluice serve`
 * processes run each tick once), do the work. Errors are logged; the next tick tries again.
 */
export async function runTick(ctx: Context, spec: JobSpec, work: (ctx: Context) => Promise<unknown>): Promise<void> {
  try {
    const tick = Math.floor(Date.now() / spec.intervalMs);
    const leaseMs = Math.max(spec.intervalMs * 10, 60_000);
    if (spec.everyProcess || (await claimJobTick(ctx.database.knex, spec.name, ctx.workerId, tick, leaseMs))) {
      if (!spec.everyProcess) await recordJobTick(ctx.database.knex, spec.name, ctx.workerId, tick);
      await work(ctx);
      if (!spec.everyProcess) await releaseJobLease(ctx.database.knex, spec.name, ctx.workerId);
    }
  } catch (error) {
    log.error('job failed', { job: spec.name, error: String((error as Error)?.stack ?? error) });
  }
}

/**
 * The body of a Bree job file: open the database once, run the long-lived job until Bree asks
 * it to stop ('cancel'); the server's wake-ups reach it as messages, and what this thread queues
 * is announced to the server.
 */
export async function runLongJob(spec: JobSpec, start: (ctx: Context) => LongJob): Promise<void> {
  // The server validated its configuration once and hands it to every job.
  const config = (workerData as { config?: Config } | undefined)?.config ?? loadConfig();
  const ctx = await openContext(config, { migrate: false });
  announceThrough(parentPort);
  try {
    const job = start(ctx);
    parentPort?.on('message', (message: unknown) => {
      if (message === 'cancel') job.stop();
      const reason = wakeFromMessage(message);
      if (reason) job.wake?.(reason);
    });
    await job.run();
  } catch (error) {
    log.error('job failed', { job: spec.name, error: String((error as Error)?.stack ?? error) });
  } finally {
    await ctx.database.close();
    parentPort?.removeAllListeners('message');
    parentPort?.postMessage('done');
  }
}
