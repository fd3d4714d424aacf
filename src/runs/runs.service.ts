import { emptyCounts, type ChangeCounts } from '../core/changeCounts.js';
import type { RunState } from '../core/feedSettings.js';
import type { HoldReason } from '../core/holds.js';
import { formatProblem, type Problem } from '../core/problems.js';
import { invalidState, notFound } from '../errors.js';
import { countRows, insertMany } from '../storage/database.js';
import { fromDbTime, toDbTime, type Db, type Dialect } from '../storage/dialect.js';
import { parseProgress, type ProgressSnapshot } from '../pipeline/progress.js';
import { readLiveProgress } from '../storage/liveProgress.js';

export type RunChannel = 'folder' | 's3' | 'http' | 'cli' | 'pull' | 'reapply' | 'sftp' | 'app' | 'export';

export interface Run {
  id: number;
  feedId: number;
  state: RunState;
  channel: RunChannel;
  reapplyOf: number | null;
  mode: 'full' | 'delta' | null;
  controlFile: string | null;
  mappingHash: string | null;
  forceUpdate: boolean;
  baselineVersion: number | null;
  holdReasons: HoldReason[];
  counts: ChangeCounts;
  rowCount: number;
  /** Records found exactly as the directory holds them; never staged. */
  unchangedRows: number;
  errorCount: number;
  /** How often processing failed with an error. */
  attempts: number;
  leaseOwner: string | null;
  leaseExpiresAt: string | null;
  /** When the worker holding the run last renewed its lease. */
  heartbeatAt: string | null;
  /** Written by the worker while it processes the run. */
  progress: ProgressSnapshot | null;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
}

export const terminalStates: RunState[] = ['applied', 'failed', 'cancelled', 'superseded'];
/** The states a report email can be sent for (feed setting `reportOn`). */
export const reportedStates: RunState[] = ['held', 'failed', 'applied'];

/* eslint-disable @typescript-eslint/no-explicit-any */
const fromRow = (row: any): Run => ({
  id: Number(row.id),
  feedId: Number(row.feed_id),
  state: row.state,
  channel: row.channel,
  reapplyOf: row.reapply_of === null ? null : Number(row.reapply_of),
  mode: row.mode,
  controlFile: row.control_file,
  mappingHash: row.mapping_hash,
  forceUpdate: Boolean(Number(row.force_update)),
  baselineVersion: row.baseline_version === null ? null : Number(row.baseline_version),
  holdReasons: row.hold_reasons ? JSON.parse(row.hold_reasons) : [],
  counts: row.counts ? JSON.parse(row.counts) : emptyCounts(),
  rowCount: Number(row.row_count),
  unchangedRows: Number(row.unchanged_rows ?? 0),
  errorCount: Number(row.error_count),
  attempts: Number(row.attempts ?? 0),
  leaseOwner: row.lease_owner,
  leaseExpiresAt: fromDbTime(row.lease_expires_at),
  heartbeatAt: fromDbTime(row.heartbeat_at),
  progress: parseProgress(row.progress),
  createdAt: fromDbTime(row.created_at)!,
  updatedAt: fromDbTime(row.updated_at)!,
  finishedAt: fromDbTime(row.finished_at),
});

export async function createRun(
  db: Db,
  fields: { feedId: number; channel: RunChannel; reapplyOf?: number; forceUpdate?: boolean; actor?: string },
): Promise<Run> {
  const now = toDbTime();
  const [id] = await db('runs').insert({
    feed_id: fields.feedId,
    state: 'receiving',
    channel: fields.channel,
    reapply_of: fields.reapplyOf ?? null,
    force_update: fields.forceUpdate ?? false,
    created_at: now,
    updated_at: now,
  });
  const runId = Number(id);
  await addRunEvent(db, runId, fields.reapplyOf ? `created as a re-apply of run ${fields.reapplyOf}` : `receiving files (${fields.channel})`, {
    state: 'receiving',
    actor: fields.actor,
  });
  return getRun(db, runId);
}

export async function findRun(db: Db, id: number): Promise<Run | null> {
  const row = await db('runs').where({ id }).first();
  return row ? withLiveProgress(db, fromRow(row)) : null;
}

/** A run being received or applied may have newer progress than its row (SQLite: see liveProgress). */
async function withLiveProgress(db: Db, run: Run): Promise<Run> {
  if (run.state !== 'receiving' && run.state !== 'applying') return run;
  const live = await readLiveProgress(db, run.id);
  if (!live || live.phase !== run.state || (run.progress && run.progress.at >= live.at)) return run;
  return { ...run, progress: live };
}

export async function getRun(db: Db, id: number): Promise<Run> {
  const run = await findRun(db, id);
  if (!run) throw notFound('run', id);
  return run;
}

export interface RunFilter {
  feedId?: number;
  states?: RunState[];
  ids?: number[];
  /** Runs last changed at or before this moment (a held run changes no more while it waits). */
  updatedBefore?: Date;
}

const filteredRuns = (db: Db, filter: RunFilter) => {
  const query = db('runs');
  if (filter.feedId !== undefined) query.where({ feed_id: filter.feedId });
  if (filter.states?.length) query.whereIn('state', filter.states);
  if (filter.ids) query.whereIn('id', filter.ids);
  if (filter.updatedBefore) query.where('updated_at', '<=', toDbTime(filter.updatedBefore));
  return query;
};

/** Newest first. */
export async function listRuns(db: Db, filter: RunFilter & { limit?: number; offset?: number } = {}): Promise<Run[]> {
  return (await filteredRuns(db, filter).orderBy('id', 'desc').limit(filter.limit ?? 50).offset(filter.offset ?? 0)).map(fromRow);
}

export async function countRuns(db: Db, filter: RunFilter = {}): Promise<number> {
  return countRows(filteredRuns(db, filter));
}

export async function addRunEvent(db: Db, runId: number, message: string, extra: { state?: RunState; actor?: string } = {}) {
  await db('run_events').insert({ run_id: runId, at: toDbTime(), state: extra.state ?? null, actor: extra.actor ?? null, message });
}

export async function runEvents(db: Db, runId: number) {
  const rows = await db('run_events').where({ run_id: runId }).orderBy('id');
  return rows.map((r: any) => ({ at: fromDbTime(r.at), state: r.state as RunState | null, actor: r.actor as string | null, message: r.message as string }));
}

/**
 * Moves a run from one of `from` to `to`, only if it is still in one of them: two processes
 * (or an admin and a worker) can never both make the same move.
 */
export async function transition(
  db: Db,
  runId: number,
  from: RunState[],
  to: RunState,
  options: { message?: string; actor?: string; fields?: Record<string, unknown> } = {},
): Promise<boolean> {
  const now = toDbTime();
  const update: Record<string, unknown> = { state: to, updated_at: now, ...options.fields };
  if (terminalStates.includes(to)) Object.assign(update, { finished_at: now, lease_owner: null, lease_expires_at: null });
  // A run that moves on is reported again when it next lands in a reported state.
  if (!reportedStates.includes(to)) update.reported_state = null;
  const changed = await db('runs').where({ id: runId }).whereIn('state', from).update(update);
  if (changed === 1) await addRunEvent(db, runId, options.message ?? to, { state: to, actor: options.actor });
  return changed === 1;
}

/** The newest full snapshot is the truth: older runs of the feed still waiting are superseded. */
export async function supersedeOlderRuns(db: Db, feedId: number, newerRunId: number): Promise<number[]> {
  const older = (await db('runs').where({ feed_id: feedId }).where('id', '<', newerRunId).whereIn('state', ['queued', 'held']).pluck('id')) as number[];
  const superseded: number[] = [];
  for (const id of older.map(Number)) {
    if (await transition(db, id, ['queued', 'held'], 'superseded', { message: `superseded by run ${newerRunId}, a newer full snapshot` })) superseded.push(id);
  }
  return superseded;
}

export async function requireTransition(db: Db, run: Run, from: RunState[], to: RunState, options: Parameters<typeof transition>[4] = {}) {
  if (!(await transition(db, run.id, from, to, options))) {
    const current = await getRun(db, run.id);
    throw invalidState(`run ${run.id} is ${current.state}; this action needs it to be ${from.join(' or ')}`, { state: current.state });
  }
}

export async function updateRunFields(db: Db, runId: number, fields: Record<string, unknown>) {
  await db('runs').where({ id: runId }).update({ ...fields, updated_at: toDbTime() });
}

export async function recordProblems(db: Db, dialect: Dialect, runId: number, problems: Problem[]) {
  await insertMany(
    db,
    dialect,
    'run_errors',
    problems.map((p) => ({
      run_id: runId,
      level: p.level,
      file: p.file ?? null,
      line: p.line ?? null,
      column_number: p.column ?? null,
      pointer: p.pointer ?? null,
      code: p.code,
      message: p.message,
      record_key: p.key?.slice(0, 320) ?? null,
    })),
  );
}

export interface RunError extends Problem {
  text: string;
}

export async function runErrors(db: Db, runId: number, options: { limit?: number; offset?: number } = {}): Promise<RunError[]> {
  const query = db('run_errors').where({ run_id: runId }).orderBy([{ column: 'level', order: 'desc' }, 'file', 'line', 'id']);
  if (options.limit !== undefined) query.limit(options.limit).offset(options.offset ?? 0);
  return (await query).map((r: any) => {
    const problem: Problem = {
      level: r.level,
      code: r.code,
      message: r.message,
      ...(r.file !== null && { file: r.file }),
      ...(r.line !== null && { line: Number(r.line) }),
      ...(r.column_number !== null && { column: Number(r.column_number) }),
      ...(r.pointer !== null && { pointer: r.pointer }),
      ...(r.record_key !== null && { key: r.record_key }),
    };
    return { ...problem, text: formatProblem(problem) };
  });
}

export async function runFiles(db: Db, runId: number) {
  const rows = await db('run_files').where({ run_id: runId }).orderBy('id');
  return rows.map((r: any) => ({
    name: r.name as string,
    role: r.role as 'control' | 'data',
    size: Number(r.size),
    sha256: r.sha256 as string,
    storageKey: r.storage_key as string,
    purged: Boolean(Number(r.purged)),
  }));
}

/** How many of the run's errors have each code, the commonest first. */
export async function runErrorCodes(db: Db, runId: number): Promise<{ code: string; n: number }[]> {
  const rows = (await db('run_errors').where({ run_id: runId }).groupBy('code').select('code').count({ n: '*' })) as { code: string; n: number | string }[];
  return rows.map((r) => ({ code: r.code, n: Number(r.n) })).sort((a, b) => b.n - a.n || a.code.localeCompare(b.code));
}
