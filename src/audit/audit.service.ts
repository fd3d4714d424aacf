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

export interface AuditFilter {
  /** Part of the actor's e-mail address or name, in any letter case. */
  actor?: string;
  action?: string;
  /** The feed's own entries and those of its runs. */
  feed?: { id: number; slug: string };
}

function filtered(db: Db, filter: AuditFilter) {
  const query = db('audit_log');
  if (filter.actor) query.whereRaw(`lower(actor) like ? escape '!'`, [`%${filter.actor.toLowerCase().replace(/[!%_]/g, (c) => `!${c}`)}%`]);
  if (filter.action) query.where('action', filter.action);
  const feed = filter.feed;
  if (feed) {
    // Targets are text ("feed hr", "run 42"): a run's entries belong to the run's feed.
    query.where((q) => q.where('target', `feed ${feed.slug}`).orWhereIn('target', db('runs').where('feed_id', feed.id).select(db.raw(`concat('run ', id)`))));
  }
  return query;
}

/** The actions recorded so far, for the filter's choices. */
export async function auditActions(db: Db): Promise<string[]> {
  return ((await db('audit_log').distinct('action').orderBy('action')) as { action: string }[]).map((r) => r.action);
}

export async function listAudit(db: Db, page: { limit: number; offset: number }, filter: AuditFilter = {}): Promise<{ entries: AuditEntry[]; total: number }> {
  const total = await countRows(filtered(db, filter));
  const rows = await filtered(db, filter).orderBy('id', 'desc').limit(page.limit).offset(page.offset);
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
