import { recordAudit } from '../audit/audit.service.js';
import type { Db } from '../storage/dialect.js';
import { addRunEvent } from './runs.service.js';

export const MAX_COMMENT_LENGTH = 1000;

/**
 * Why an administrator decided as they did ("checked with HR: the leavers are real"), kept in the
 * audit log and on the run's timeline next to the decision itself.
 */
export async function commentOnRun(db: Db, runId: number, actor: string, action: string, comment: string): Promise<void> {
  const text = comment.trim().slice(0, MAX_COMMENT_LENGTH);
  if (!text) return;
  await recordAudit(db, { actor, action: 'run.comment', target: `run ${runId}`, details: { action, comment: text } });
  await addRunEvent(db, runId, `comment on ${action}: ${text}`, { actor });
}
