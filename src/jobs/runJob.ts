import { parentPort, workerData } from 'node:worker_threads';
import { loadConfig, type Config } from '../config.js';
import { openContext, type Context } from '../context.js';
import { log } from '../log.js';
import type { RunExecutor } from '../pipeline/executor.js';
import { announceThrough, wakeFromMessage } from '../pipeline/wakeUp.js';
import { claimJobTick, recordJobTick, releaseJobLease } from './leases.js';

export interface JobSpec {
  name: string;
  /** How often Bree starts it; one tick of this length runs once across all processes. */
  intervalMs: number;
  /** Whether every process may run it at once (work that claims its own items, like runs). */
  everyProcess?: boolean;
  /** Started once and kept until the server stops (the run executor). */
  longLived?: boolean;
}

/**
 * The body of every Bree job file: open the database, take this tick's lease (so that several
 * `sluice serve` processes run each tick once), do the work, and tell Bree it is done.
 */
export async function runJob(spec: JobSpec, work: (ctx: Context) => Promise<unknown>): Promise<void> {
  // The server validated its configuration once and hands it to every job.
  const config = (workerData as { config?: Config } | undefined)?.config ?? loadConfig();
  const ctx = await openContext(config, { migrate: false });
  announceThrough(parentPort);
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
  } finally {
    await ctx.database.close();
    parentPort?.postMessage('done');
  }
}

/**
 * The body of a long-lived job: it runs until Bree asks it to stop ('cancel'), and the server's
 * wake-ups reach it as messages.
 */
export async function runLongJob(spec: JobSpec, start: (ctx: Context) => RunExecutor): Promise<void> {
  const config = (workerData as { config?: Config } | undefined)?.config ?? loadConfig();
  const ctx = await openContext(config, { migrate: false });
  try {
    const executor = start(ctx);
    parentPort?.on('message', (message: unknown) => {
      if (message === 'cancel') executor.stop();
      const reason = wakeFromMessage(message);
      if (reason) executor.wake(reason);
    });
    await executor.run();
  } catch (error) {
    log.error('job failed', { job: spec.name, error: String((error as Error)?.stack ?? error) });
  } finally {
    await ctx.database.close();
    parentPort?.removeAllListeners('message');
    parentPort?.postMessage('done');
  }
}
