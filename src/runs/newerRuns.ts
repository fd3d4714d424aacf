import type { Db } from '../storage/dialect.js';
import { addRunEvent, type Run } from './runs.service.js';

/**
 * Only a newer snapshot that passed validation replaces older waiting runs (PRODUCT §5). When a
 * newer full (or unreadable) upload fails instead, the older runs of its feed still waiting —
 * held for review or queued — stay as they are, and their timelines say why nothing replaced
 * them. Returns the ids of the runs noted.
 */
export async function noteNewerRunFailed(db: Db, failed: Run): Promise<number[]> {
  const waiting = await waitingOlderRuns(db, failed);
  for (const run of waiting) {
    const still = run.state === 'held' ? 'stays held and still waits for review' : 'stays queued and is processed next';
    await addRunEvent(db, run.id, `run ${failed.id}, a newer upload, failed validation and did not replace this run; it ${still}`);
  }
  return waiting.map((r) => r.id);
}

/** The runs of the feed older than `run` that are still held or queued, oldest first. */
export async function waitingOlderRuns(db: Db, run: Pick<Run, 'id' | 'feedId'>): Promise<{ id: number; state: 'held' | 'queued' }[]> {
  const rows = (await db('runs')
    .where({ feed_id: run.feedId })
    .where('id', '<', run.id)
    .whereIn('state', ['held', 'queued'])
    .orderBy('id')
    .select('id', 'state')) as { id: number; state: 'held' | 'queued' }[];
  return rows.map((r) => ({ id: Number(r.id), state: r.state }));
}
