import type { Context as SluiceContext } from '../context.js';
import { fromDbTime } from '../storage/dialect.js';

/** Prometheus text exposition: runs by state, queue depth, held runs, last run's throughput, the mail outbox. */
export async function renderMetrics(sluice: SluiceContext): Promise<string> {
  const db = sluice.database.knex;
  const byState = (await db('runs').groupBy('state').select('state').count({ n: '*' })) as { state: string; n: number | string }[];
  const lines = ['# HELP sluice_runs Runs by state.', '# TYPE sluice_runs gauge'];
  for (const { state, n } of byState) lines.push(`sluice_runs{state="${state}"} ${Number(n)}`);
  const count = (state: string) => Number(byState.find((r) => r.state === state)?.n ?? 0);
  lines.push('# HELP sluice_queue_depth Runs waiting to be processed.', '# TYPE sluice_queue_depth gauge', `sluice_queue_depth ${count('queued')}`);
  lines.push('# HELP sluice_held_runs Runs waiting for an administrator.', '# TYPE sluice_held_runs gauge', `sluice_held_runs ${count('held')}`);
  const last = await db('runs').where({ state: 'applied' }).orderBy('id', 'desc').first('id', 'row_count');
  if (last) {
    const events = (await db('run_events').where({ run_id: last.id }).whereNotNull('state').orderBy('id').select('at', 'state')) as { at: unknown; state: string }[];
    const seconds = Math.max(0.001, processingMs(events) / 1000);
    lines.push('# HELP sluice_last_run_rows_per_second Rows per second of the last applied run, over its validating and applying time.', '# TYPE sluice_last_run_rows_per_second gauge');
    lines.push(`sluice_last_run_rows_per_second ${Math.round(Number(last.row_count) / seconds)}`);
  }
  const mail = (await db('mail_outbox').groupBy('state').select('state').count({ n: '*' })) as { state: string; n: number | string }[];
  lines.push('# HELP sluice_mail_outbox Outbox messages by state (pending ones wait for the SMTP server).', '# TYPE sluice_mail_outbox gauge');
  for (const state of ['pending', 'sent', 'failed', 'skipped']) lines.push(`sluice_mail_outbox{state="${state}"} ${Number(mail.find((r) => r.state === state)?.n ?? 0)}`);
  return lines.join('\n') + '\n';
}

/** The states in which a worker is busy with a run; receiving, queued and held are waiting. */
const processingStates = new Set(['validating', 'applying']);

/**
 * Time a run spent being processed, from its state changes in order: each stretch that starts
 * in `validating` or `applying` lasts until the next state change. Uploads arriving slowly, a
 * queue, or a run held for days say nothing about throughput.
 */
export function processingMs(events: { at: unknown; state: string }[]): number {
  let total = 0;
  for (let i = 0; i + 1 < events.length; i++) {
    if (processingStates.has(events[i]!.state)) total += Date.parse(fromDbTime(events[i + 1]!.at)!) - Date.parse(fromDbTime(events[i]!.at)!);
  }
  return total;
}
