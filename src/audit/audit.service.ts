import { countRows } from '../storage/database.js';
import { fromDbTime, toDbTime, type Db } from '../storage/dialect.js';

export interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  action: string;
  target: string;
  details: Record<string, unknown> | null;
}

/** Who did what to what, when: every administrative action, from the admin page or the CLI. */
export async function recordAudit(db: Db, entry: { actor: string; action: string; target: string; details?: Record<string, unknown> }): Promise<void> {
  await db('audit_log').insert({
    at: toDbTime(),
    actor: entry.actor.slice(0, 320),
    action: entry.action,
    target: entry.target.slice(0, 255),
    details: entry.details ? JSON.stringify(entry.details) : null,
  });
}

export async function listAudit(db: Db, page: { limit: number; offset: number }): Promise<{ entries: AuditEntry[]; total: number }> {
  const total = await countRows(db('audit_log'));
  const rows = await db('audit_log').orderBy('id', 'desc').limit(page.limit).offset(page.offset);
  return {
    total,
    entries: rows.map((r: { id: number; at: unknown; actor: string; action: string; target: string; details: string | null }) => ({
      id: Number(r.id),
      at: fromDbTime(r.at)!,
      actor: r.actor,
      action: r.action,
      target: r.target,
      details: r.details ? (JSON.parse(r.details) as Record<string, unknown>) : null,
    })),
  };
}
