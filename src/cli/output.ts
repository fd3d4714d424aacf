import type { FieldChange } from '../core/fieldChanges.js';
import type { PresentedRun } from '../runs/runs.presenter.js';

/** Exit codes (README): 4 is `upload` giving up on a set that stays incomplete. */
export const EXIT = { done: 0, failed: 1, usage: 2, held: 3, incomplete: 4 } as const;

/** A run that ended without being applied — failed, cancelled, superseded — exits 1 (README). */
export function exitCodeForRun(run: Pick<PresentedRun, 'state'>): number {
  if (run.state === 'held') return EXIT.held;
  if (run.state === 'failed' || run.state === 'cancelled' || run.state === 'superseded') return EXIT.failed;
  return EXIT.done;
}

/** The fields a change changed, on one line: `title: "A" -> "B"; city: null -> "Oslo"`. */
export function fieldsText(fields: FieldChange[]): string {
  return fields.map((f) => `${f.field}: ${JSON.stringify(f.before)} -> ${JSON.stringify(f.after)}`).join('; ');
}

export function printJson(value: unknown) {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

export function printRun(run: PresentedRun) {
  const c = run.counts;
  const lines = [
    `run ${run.id} (feed ${run.feed}${run.reapplyOf ? `, re-apply of run ${run.reapplyOf}` : ''}): ${run.state}${run.mode ? ` · ${run.mode}` : ''} · ${run.rows} rows`,
    `  users       created ${c.users.created}, updated ${c.users.updated}, suspended ${c.users.suspended}, reactivated ${c.users.reactivated}, deleted ${c.users.deleted}, unchanged ${c.users.unchanged}`,
    `  groups      created ${c.groups.created}, updated ${c.groups.updated}`,
    `  memberships added ${c.memberships.added}, removed ${c.memberships.removed}`,
  ];
  if (run.worker) {
    const w = run.worker;
    lines.push(
      `  worker      ${w.owner ?? 'none'}, last heartbeat ${w.heartbeatAt ?? 'never'}; ${w.alive ? `alive (lease until ${w.leaseExpiresAt}): "run cancel --unsafe" stops it at its next batch` : 'no live worker (lease expired): it died or hangs'}`,
    );
  }
  if (run.progress) lines.push(`  progress    ${run.progress.text}`);
  if (run.holdReasons.length) lines.push(run.state === 'held' ? '  held because:' : '  was held because:', ...run.holdReasons.map((r) => `    - ${r.message}`));
  if (run.errors.count) {
    lines.push(`  ${run.errors.count} error(s)${run.errors.count > run.errors.first.length ? `, first ${run.errors.first.length}` : ''}:`);
    for (const e of run.errors.first) {
      const where = [e.file, e.line, e.column].filter((v) => v !== null).join(':');
      lines.push(`    ${where ? `${where}: ` : ''}${e.message} [${e.code}]`);
    }
  }
  process.stdout.write(lines.join('\n') + '\n');
}
