import { hostname } from 'node:os';
import { problemMessage } from '../core/problems.js';
import type { Feed } from '../feeds/feeds.service.js';
import { describeProgress, type ProgressSnapshot } from '../pipeline/progress.js';
import type { Db } from '../storage/dialect.js';
import { runErrors, type Run } from './runs.service.js';

/** The documented `--json` shape of a run (PRODUCT §10). */
export interface PresentedRun {
  id: number;
  feed: string;
  state: Run['state'];
  mode: Run['mode'];
  reapplyOf: number | null;
  holdReasons: Run['holdReasons'];
  counts: Run['counts'];
  rows: number;
  errors: { count: number; first: { file: string | null; line: number | null; column: number | null; code: string; message: string }[] };
  createdAt: string;
  finishedAt: string | null;
  /** For a run in progress: the process holding it and whether it is still alive. */
  worker?: RunWorker;
  /** For a run being received, validated or applied: how far it has come (as `worker.progress`). */
  progress?: ShownProgress;
}

export type ShownProgress = ProgressSnapshot & { text: string };

/** The progress of a run being received or worked on, with its one-line text; null in other states. */
export function runProgress(run: Run): ShownProgress | null {
  if (!['receiving', 'validating', 'applying'].includes(run.state) || !run.progress) return null;
  return { ...run.progress, text: describeProgress(run.progress) };
}

export interface RunWorker {
  /** The lease owner: host:pid:tag of the process. */
  owner: string | null;
  heartbeatAt: string | null;
  leaseExpiresAt: string | null;
  /** The lease is current: a live worker holds the run, and cancelling it is the unsafe kind. */
  alive: boolean;
  /** Phase, rows so far (of how many), rows/s and time left, as the worker last wrote them. */
  progress: ShownProgress | null;
}

/** Who works on a run in `validating` or `applying`; undefined in any other state. */
export function runWorker(run: Run, now = new Date()): RunWorker | undefined {
  if (run.state !== 'validating' && run.state !== 'applying') return undefined;
  const alive = !!run.leaseOwner && !!run.leaseExpiresAt && new Date(run.leaseExpiresAt) > now && !exitedHere(run.leaseOwner);
  return { owner: run.leaseOwner, heartbeatAt: run.heartbeatAt, leaseExpiresAt: run.leaseExpiresAt, alive, progress: runProgress(run) };
}

/**
 * A lease outlives a killed process until it expires; on the process's own host we can tell at
 * once that it is gone (owner `host:pid:tag`), so the page does not call a dead worker alive.
 */
function exitedHere(owner: string): boolean {
  const [host, pid] = owner.split(':');
  if (host !== hostname() || !/^\d+$/.test(pid ?? '')) return false;
  try {
    process.kill(Number(pid), 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

export async function presentRun(db: Db, run: Run, feed: Pick<Feed, 'slug'>, firstErrors = 10): Promise<PresentedRun> {
  const errors = await runErrors(db, run.id, { limit: firstErrors });
  return {
    id: run.id,
    feed: feed.slug,
    state: run.state,
    mode: run.mode,
    reapplyOf: run.reapplyOf,
    holdReasons: run.holdReasons,
    counts: run.counts,
    rows: run.rowCount,
    errors: {
      count: run.errorCount,
      first: errors.map((e) => ({
        file: e.file ?? null,
        line: e.line ?? null,
        column: e.column ?? null,
        code: e.code,
        message: problemMessage(e),
      })),
    },
    createdAt: run.createdAt,
    finishedAt: run.finishedAt,
    ...(runWorker(run) && { worker: runWorker(run) }),
    ...(runProgress(run) && { progress: runProgress(run)! }),
  };
}
