import { buffer } from 'node:stream/consumers';
import type { Knex } from 'knex';
import type { Context } from '../context.js';
import { mappingFingerprint, parseControlFile } from '../core/control/controlFile.js';
import type { ControlFile, FileSpec } from '../core/control/types.js';
import { setProblem, type Problem } from '../core/problems.js';
import { openRecords, ReadError, type RecordReader } from '../core/readers/index.js';
import { groupsColumns, mapGroup, membershipsColumns } from '../core/records/groups.js';
import { MembershipDigests } from '../core/records/membershipDigest.js';
import { checkHeader, checkKeysSeen, ignoredColumnsMessage, unusedColumns } from '../core/records/header.js';
import { notStoredBecause } from '../core/records/sourceRecord.js';
import { usersColumns } from '../core/records/users.js';
import type { Feed } from '../feeds/feeds.service.js';
import { addRunEvent, recordProblems, runFiles, updateRunFields, type Run } from '../runs/runs.service.js';
import type { BulkWriter } from '../storage/bulk.js';
import { BaselineMatcher } from './baseline.js';
import { readMembershipRows, type MembershipsPass } from './membershipRows.js';
import { checkRunOwned, currentProgress } from './runLease.js';
import { stagedUserColumns, stageUsersRows } from './stageUsers.js';

export interface StageResult {
  control?: ControlFile;
  setProblems: number;
  rowCount: number;
  errorRows: number;
  /** Records skipped because the directory already holds them exactly so. */
  unchangedRows: number;
  /** Rejected users records whose key could not be read: who is missing cannot be proven. */
  unreadableKeys: number;
  /** Users files of a `full` set that hold no record at all. */
  emptyUsersFiles: string[];
  /** Active users no record named (`staging_absent`). */
  absentUsers: number;
}

const MAX_CONTROL_BYTES = 1024 * 1024;
const typeOrder = { users: 0, groups: 1, memberships: 2 } as const;

/**
 * Reads a run's archived files into the staging tables: the control file, the set checks, then
 * every data file streamed record by record through its mapping. Problems go to `run_errors`
 * as they are found, so neither records nor errors pile up in memory.
 */
export async function stageRun(ctx: Context, run: Run, feed: Feed): Promise<StageResult> {
  const { knex: db, dialect } = ctx.database;
  const problems = new ProblemSink(ctx, run.id);
  const files = await runFiles(db, run.id);
  const controlEntry = files.find((f) => f.role === 'control');
  if (!controlEntry) {
    await problems.add(setProblem('control_missing', 'the upload set has no control file (control.json)'));
    return problems.result();
  }
  // The recorded size first: an oversized control file is never read into memory.
  const controlBytes = controlEntry.size > MAX_CONTROL_BYTES ? null : await buffer(ctx.archive.read(controlEntry.storageKey));
  if (!controlBytes || controlBytes.length > MAX_CONTROL_BYTES) {
    await problems.add(setProblem('control_not_json', 'the control file is larger than 1 MB', { file: controlEntry.name }));
    return problems.result();
  }
  const controlText = controlBytes.toString('utf8');
  await updateRunFields(db, run.id, { control_file: controlText });
  const parsed = parseControlFile(controlText, { fileName: controlEntry.name, feed: feed.slug });
  for (const p of parsed.problems) await problems.add(p);
  const control = parsed.control;
  if (!control) return problems.result();

  const dataFiles = files.filter((f) => f.role === 'data');
  for (const f of dataFiles) {
    if (!(f.name in control.files)) {
      await problems.add(setProblem('file_extra', 'this file is not named in the control file; name it there or do not upload it', { file: f.name }));
    }
  }
  const work: WorkFile[] = [];
  for (const [name, spec] of Object.entries(control.files)) {
    const stored = dataFiles.find((f) => f.name === name);
    if (!stored) {
      await problems.add(setProblem('file_missing', 'the control file names this file but it was not uploaded', { file: name }));
    } else if (stored.size === 0) {
      await problems.add(setProblem('file_empty', 'the file is empty', { file: name }));
    } else if (spec.sha256 && spec.sha256 !== stored.sha256) {
      await problems.add(setProblem('file_checksum', `SHA-256 is ${stored.sha256}, the control file says ${spec.sha256}; the file changed or was cut short in transfer`, { file: name }));
    } else work.push({ name, spec, storageKey: stored.storageKey, size: stored.size });
  }

  // A full run meets its records against the directory: to skip the unchanged ones and to find
  // the users it no longer names. A memberships file changes users' groups from outside their
  // records, so its rows are read first and summed per user: a record is skipped only when its
  // fingerprint and its user's memberships digest both match. forceUpdate wants every record written.
  const hasMembershipFiles = work.some((f) => f.spec.type === 'memberships');
  const usersFiles = work.filter((f) => f.spec.type === 'users').map((f) => f.name);
  const matcher = control.mode === 'full' ? await BaselineMatcher.open(db, feed.id) : null;
  const digests = control.mode === 'full' && hasMembershipFiles ? new MembershipDigests(matcher?.activeUsers) : null;
  const users: UsersOptions = {
    matcher,
    // Not the salt of a set without memberships files: its records would match while the
    // memberships those files gave must go.
    fingerprintSalt: mappingFingerprint(control) + (hasMembershipFiles ? ':memberships-files' : ''),
    skipUnchanged: !!matcher && !(feed.settings.forceUpdate || run.forceUpdate) && usersFiles.length < 256,
    usersFiles,
    unreadableKeys: 0,
    digests,
  };
  const emptyUsersFiles: string[] = [];
  const passes = readingOrder(work, digests !== null);
  const digested = new Set<string>();

  const writers: Writers = {
    users: await dialect.openBulkWriter(db, 'staging_users', stagedUserColumns),
    groups: await dialect.openBulkWriter(db, 'staging_groups', ['run_id', 'code', 'name', 'file', 'line']),
    memberships: await dialect.openBulkWriter(db, 'staging_memberships', ['run_id', 'user_key', 'group_code', 'file', 'line']),
  };
  let rowCount = 0;
  const progress = currentProgress();
  progress?.plan(passes.filter((p) => p.pass !== 'pending').map(({ file: f }) => ({ size: f.size, rows: f.spec.rows })));
  let pendingUsers: number | null = null;
  try {
    for (const { file, pass } of passes) {
      if (pass === 'pending') {
        // Only files read whole the first time; none at all when every user was skipped.
        if (!digested.has(file.name) || problems.setProblems > 0) continue;
        pendingUsers ??= digests!.pendingUsers();
        if (pendingUsers === 0) continue;
      }
      await checkRunOwned();
      const stream = ctx.archive.read(file.storageKey);
      try {
        const reader = await openRecords(stream, file.spec, file.name, ctx.config.readLimits);
        if (pass !== 'pending') progress?.startFile(reader, stream);
        const read = await stageFile(db, run, control, file.name, file.spec, reader, writers, problems, users, pass);
        if (pass === 'pending') continue;
        progress?.endFile(read ?? 0, file.size);
        if (read === null) continue;
        if (pass === 'digest') digested.add(file.name);
        rowCount += read;
        if (read === 0 && file.spec.type === 'users' && control.mode === 'full') emptyUsersFiles.push(file.name);
        if (file.spec.rows !== undefined && file.spec.rows !== read) {
          await problems.add(setProblem('file_row_count', `has ${read} records; the control file says ${file.spec.rows}`, { file: file.name }));
        }
      } catch (error) {
        if (!(error instanceof ReadError)) throw error;
        await problems.add(error.problem);
        digested.delete(file.name);
      } finally {
        stream.destroy(); // a worker that stops mid-file reads no further
      }
    }
  } finally {
    // Close all three even if one failed, so no LOAD DATA stream is left open.
    const closed = await Promise.allSettled(Object.values(writers).map((w) => w.close()));
    const failed = closed.find((c) => c.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }
  const absentUsers = (await matcher?.finish(db, dialect, run.id, usersFiles)) ?? 0;
  return { ...(await problems.result()), control, rowCount, unchangedRows: matcher?.skipped ?? 0, unreadableKeys: users.unreadableKeys, emptyUsersFiles, absentUsers };
}

interface UsersOptions {
  matcher: BaselineMatcher | null;
  fingerprintSalt: string | null;
  skipUnchanged: boolean;
  usersFiles: string[];
  /** Counted while the users files are staged. */
  unreadableKeys: number;
  digests: MembershipDigests | null;
}

interface WorkFile {
  name: string;
  spec: FileSpec;
  storageKey: string;
  size: number;
}

/**
 * The order the files are read in: users, groups, memberships; with digests, the memberships
 * files once before the users files (checked and summed) and once after (their pending rows staged).
 */
function readingOrder(work: WorkFile[], withDigests: boolean): { file: WorkFile; pass: MembershipsPass }[] {
  const sorted = [...work].sort((a, b) => typeOrder[a.spec.type] - typeOrder[b.spec.type]);
  if (!withDigests) return sorted.map((file) => ({ file, pass: 'all' }));
  const memberships = sorted.filter((f) => f.spec.type === 'memberships');
  return [
    ...memberships.map((file) => ({ file, pass: 'digest' as const })),
    ...sorted.filter((f) => f.spec.type !== 'memberships').map((file) => ({ file, pass: 'all' as const })),
    ...memberships.map((file) => ({ file, pass: 'pending' as const })),
  ];
}

export type Writers = Record<'users' | 'groups' | 'memberships', BulkWriter>;

/** Stages one data file; returns the number of records read, or null when its header is unusable. */
async function stageFile(
  db: Knex,
  run: Run,
  control: ControlFile,
  file: string,
  spec: FileSpec,
  reader: RecordReader,
  writers: Writers,
  problems: ProblemSink,
  users: UsersOptions,
  pass: MembershipsPass,
): Promise<number | null> {
  const section = control[spec.type]!;
  const required =
    spec.type === 'users' ? usersColumns(control.users!) : spec.type === 'groups' ? groupsColumns(control.groups!) : membershipsColumns(control.memberships!);
  const positions = new Map<string, number>();
  if (reader.columns) {
    const headerProblems = checkHeader(reader.columns, required, spec, file);
    if (pass !== 'pending') for (const p of headerProblems) await problems.add(p);
    if (headerProblems.length) return null;
    reader.columns.forEach((c, i) => positions.set(c, i + 1));
  }
  const columnOf = (column?: string) => (column === undefined ? undefined : positions.get(column));
  const keyKind = control.users?.key ?? 'username';

  if (spec.type === 'users') {
    users.unreadableKeys += await stageUsersRows(reader.batches, {
      db,
      runId: run.id,
      section: section as NonNullable<ControlFile['users']>,
      file,
      fileIndex: users.usersFiles.indexOf(file),
      ignoreColumns: spec.ignoreColumns,
      writers,
      problems,
      columnOf,
      ...users,
    });
  } else if (spec.type === 'groups') {
    for await (const batch of reader.batches) {
      for (const row of batch) {
        if (row.rejected) await problems.addRow([row.rejected]);
        else {
          const { record, problems: rowProblems } = mapGroup(section as NonNullable<ControlFile['groups']>, row, file, columnOf);
          if (!record) await problems.addRow(rowProblems);
          else await writers.groups.write([run.id, record.code, record.name, file, row.line]);
        }
      }
    }
  } else {
    const memberships = section as NonNullable<ControlFile['memberships']>;
    await readMembershipRows(reader.batches, { runId: run.id, section: memberships, keyKind, file, writers, problems, columnOf, pass, digests: users.digests });
    if (pass === 'pending') return reader.count();
  }
  if (!reader.columns) for (const p of checkKeysSeen(reader.seenKeys(), required, file, spec)) await problems.add(p);
  const ignored = unusedColumns(reader.columns ?? reader.seenKeys(), required);
  if (ignored.length) await addRunEvent(db, run.id, ignoredColumnsMessage(file, ignored, spec.type === 'users' ? notStoredBecause(spec.ignoreColumns) : undefined));
  return reader.count();
}

/** Writes problems to `run_errors` in batches and counts them. */
export class ProblemSink {
  private pending: Problem[] = [];
  setProblems = 0;
  errorRows = 0;

  constructor(
    private readonly ctx: Context,
    private readonly runId: number,
  ) {}

  async add(problem: Problem) {
    if (problem.level === 'set') this.setProblems++;
    else this.errorRows++;
    this.pending.push(problem);
    if (this.pending.length >= 500) await this.flush();
  }

  /** Several problems of one row count as one error row. */
  async addRow(rowProblems: Problem[]) {
    if (rowProblems.length === 0) return;
    this.errorRows++;
    this.pending.push(...rowProblems);
    if (this.pending.length >= 500) await this.flush();
  }

  async flush() {
    const batch = this.pending;
    this.pending = [];
    await recordProblems(this.ctx.database.knex, this.ctx.database.dialect, this.runId, batch);
  }

  async result(): Promise<StageResult> {
    await this.flush();
    return { setProblems: this.setProblems, rowCount: 0, errorRows: this.errorRows, unchangedRows: 0, unreadableKeys: 0, emptyUsersFiles: [], absentUsers: 0 };
  }
}
