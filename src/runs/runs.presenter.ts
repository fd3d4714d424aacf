import { problemMessage } from '../core/problems.js';
import type { Feed } from '../feeds/feeds.service.js';
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
  };
}
