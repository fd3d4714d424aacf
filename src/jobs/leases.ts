import type { Db } from '../storage/dialect.js';
import { toDbTime } from '../storage/dialect.js';

/**
 * Takes tick number `tick` of job `name` for `owner`, if no process has taken it yet and no
 * other holder's lease is still running. Several `sluice serve` processes on one database thus
 * run each tick of each job once.
 */
export async function claimJobTick(db: Db, name: string, owner: string, tick: number, leaseMs: number): Promise<boolean> {
  const now = new Date();
  const expires = toDbTime(new Date(now.getTime() + leaseMs));
  const taken = await db('job_leases')
    .where({ name })
    .where('last_tick', '<', tick)
    .where((q) => q.whereNull('expires_at').orWhere('expires_at', '<', toDbTime(now)).orWhere({ owner }))
    .update({ owner, expires_at: expires, last_tick: tick });
  if (taken === 1) return true;
  if (await db('job_leases').where({ name }).first('name')) return false;
  try {
    await db('job_leases').insert({ name, owner, expires_at: expires, last_tick: tick });
    return true;
  } catch {
    return false; // another process inserted it first
  }
}

/** Ends a lease early, once the job's work for the tick is done. */
export async function releaseJobLease(db: Db, name: string, owner: string): Promise<void> {
  await db('job_leases').where({ name, owner }).update({ expires_at: null });
}

/** Remembers that `owner` ran tick `tick` of `name`; kept a week (the retention job prunes it). */
export async function recordJobTick(db: Db, name: string, owner: string, tick: number): Promise<void> {
  await db('job_ticks').insert({ name, tick, owner, started_at: toDbTime() });
}

export async function pruneJobTicks(db: Db, now = new Date()): Promise<void> {
  await db('job_ticks').where('started_at', '<', toDbTime(new Date(now.getTime() - 7 * 86_400_000))).delete();
}
