import type { Db } from '../storage/dialect.js';
import { fromDbTime } from '../storage/dialect.js';

export interface ChangeLogEntry {
  /** The commit-ordered number to page by (README, "Reading the change log"). */
  commitSeq: number;
  /** The insert-ordered number; kept for readers that know it, but not safe to page by. */
  seq: number;
  runId: number;
  feedId: number;
  entity: string;
  entityKey: string;
  groupCode: string | null;
  operation: string;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  createdAt: string;
}

export interface ChangeLogPage {
  changes: ChangeLogEntry[];
  /** The cursor to pass as `after` next time: the last number returned, or `after` if none. */
  last: number;
}

export const MAX_CHANGES_PER_PAGE = 10_000;

/**
 * The changes committed after `after`, in commit order. Paging with the returned `last` never
 * misses a change nor sees one twice, however many feeds and instances apply meanwhile.
 */
export async function readChanges(db: Db, page: { after: number; limit: number; feedId?: number; feedIds?: number[] }): Promise<ChangeLogPage> {
  const limit = Math.max(1, Math.min(MAX_CHANGES_PER_PAGE, Math.floor(page.limit)));
  const query = db('directory_changes').where('commit_seq', '>', page.after).orderBy('commit_seq').limit(limit);
  if (page.feedId !== undefined) query.where('feed_id', page.feedId);
  // An application's token reaches some feeds only; its cursor still runs over the whole log.
  if (page.feedIds !== undefined) query.whereIn('feed_id', page.feedIds);
  const rows = await query.select('commit_seq', 'seq', 'run_id', 'feed_id', 'entity', 'entity_key', 'group_code', 'operation', 'before_values', 'after_values', 'created_at');
  const changes = rows.map((r: Record<string, unknown>) => ({
    commitSeq: Number(r.commit_seq),
    seq: Number(r.seq),
    runId: Number(r.run_id),
    feedId: Number(r.feed_id),
    entity: String(r.entity),
    entityKey: String(r.entity_key),
    groupCode: (r.group_code as string | null) ?? null,
    operation: String(r.operation),
    before: parseValues(r.before_values),
    after: parseValues(r.after_values),
    createdAt: fromDbTime(r.created_at)!,
  }));
  return { changes, last: changes.length ? changes[changes.length - 1]!.commitSeq : page.after };
}

function parseValues(text: unknown): Record<string, unknown> | null {
  return text === null || text === undefined ? null : (JSON.parse(String(text)) as Record<string, unknown>);
}
