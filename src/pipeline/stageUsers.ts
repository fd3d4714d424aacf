import type { Knex } from 'knex';
import type { UsersSection } from '../core/control/types.js';
import type { SourceRow } from '../core/readers/types.js';
import { digestText, type MembershipDigests } from '../core/records/membershipDigest.js';
import { sourcePolicy } from '../core/records/sourceRecord.js';
import { mapUser, recordKey, rowFingerprint } from '../core/records/users.js';
import { profileColumns } from '../directory/userColumns.js';
import type { BaselineMatcher, DirectoryEntry } from './baseline.js';
import { checkRunOwned } from './runLease.js';
import type { ProblemSink, Writers } from './stage.js';

/** Keys looked up in one query. */
const BATCH = 2000;
/**
 * Lookups under way at once while earlier batches are staged and later ones parsed: the
 * database answers one lookup on one core, so a single one at a time left this process idle
 * about a third of a no-change run, waiting.
 */
const LOOKUPS_IN_FLIGHT = 3;

export interface UsersFileStaging {
  db: Knex;
  runId: number;
  section: UsersSection;
  file: string;
  fileIndex: number;
  /** The file entry's `ignoreColumns`: kept out of the stored raw record. */
  ignoreColumns: string[];
  writers: Writers;
  problems: ProblemSink;
  columnOf: (column?: string) => number | undefined;
  /** The directory to meet the records against (`full` runs of a feed that has users). */
  matcher: BaselineMatcher | null;
  /** The mapping's hash when fingerprints mean something for this set, else null. */
  fingerprintSalt: string | null;
  /** Whether a record found unchanged may be skipped. */
  skipUnchanged: boolean;
  /** The memberships files' digests, read before the users files (`full` runs that have such files). */
  digests: MembershipDigests | null;
}

/**
 * Stages a users file. Records are met against the directory a batch at a time: a record
 * exactly as the directory holds it is only counted; the rest are mapped, checked and staged.
 * A rejected record still names its user, who is then present (staged as an 'error' row).
 * Batches are staged strictly in file order (the matcher's duplicate rule depends on it); only
 * their lookups overlap. Returns the number of rejected records whose key could not be read at all.
 */
export async function stageUsersRows(batches: AsyncIterable<SourceRow[]>, work: UsersFileStaging): Promise<number> {
  let batch: SourceRow[] = [];
  // Each batch is staged after the one before it; a failure passes down the chain to the end.
  let staged: Promise<void> = Promise.resolve();
  const window: Promise<void>[] = [];
  const counter = { unreadable: 0 };
  const submit = async (group: SourceRow[]) => {
    const keys = work.matcher ? group.map((row) => recordKey(work.section, row)) : [];
    const others = work.matcher ? group.flatMap((row) => otherKeys(work.section, row)) : [];
    const found = work.matcher ? work.matcher.lookup(work.db, others.length ? [...keys, ...others] : keys) : Promise.resolve(null);
    found.catch(() => undefined); // awaited in the chain; not an unhandled rejection meanwhile
    staged = staged.then(() => found).then((entries) => stageBatch(group, keys, entries, work, counter));
    window.push(staged);
    if (window.length >= LOOKUPS_IN_FLIGHT) await window.shift();
  };
  try {
    for await (const read of batches) {
      for (const row of read) batch.push(row);
      if (batch.length >= BATCH) {
        await checkRunOwned();
        await submit(batch);
        batch = [];
      }
    }
    if (batch.length) await submit(batch);
  } finally {
    await staged;
  }
  return counter.unreadable;
}

/** The keys of a rejected record's other readings (see `SourceRow.readings`). */
function otherKeys(section: UsersFileStaging['section'], row: SourceRow): string[] {
  return row.readings?.map((values) => recordKey(section, { line: row.line, values })) ?? [];
}

async function stageBatch(group: SourceRow[], keys: string[], entries: Map<string, DirectoryEntry> | null, work: UsersFileStaging, counter: { unreadable: number }) {
  const { runId, section, file, writers } = work;
  const policy = sourcePolicy(section, work.ignoreColumns);
  for (let i = 0; i < group.length; i++) {
    const row = group[i]!;
    if (row.rejected) {
      await stageRejected(row, keys[i] ?? recordKey(section, row), entries, work, counter);
      continue;
    }
    const fingerprint = work.fingerprintSalt === null ? null : rowFingerprint(work.fingerprintSalt, row, policy);
    const entry = entries?.get(keys[i]!);
    if (entry) {
      // Both must be as the directory holds them: the record, and the memberships files' rows of the user.
      const skippable = work.skipUnchanged && (!work.digests || entry.membershipDigest === work.digests.digestOf(keys[i]!));
      if (work.matcher!.classify(entry, fingerprint, row.line, work.fileIndex, skippable) === 'skip') {
        work.digests?.markSkipped(keys[i]!, true);
        continue;
      }
    }

    const { record, problems: rowProblems } = mapUser(section, row, file, work.columnOf, policy);
    if (!record) {
      await work.problems.addRow(rowProblems);
      const key = rowProblems[0]?.key;
      if (key) await writeError(work, key, row.line);
      else counter.unreadable++;
      continue;
    }
    work.digests?.markSkipped(record.key, false);
    await writers.users.write([
      runId,
      record.key,
      file,
      row.line,
      record.deleteFlag ? 'delete' : 'ok',
      record.hash,
      fingerprint,
      work.digests ? digestText(work.digests.digestOf(record.key)) : null,
      ...profileColumns.map((c) => record.profile[c] ?? null),
      JSON.stringify(record.custom),
      JSON.stringify(record.source),
    ]);
    if (!record.deleteFlag) {
      for (const code of record.groups) await writers.memberships.write([runId, record.key, code, file, row.line]);
    }
  }
}

/**
 * A record the reader could not read whole: reported, and every key it may carry counts as
 * present, so rejecting it never makes its user "missing".
 */
async function stageRejected(row: SourceRow, key: string, entries: Map<string, DirectoryEntry> | null, work: UsersFileStaging, counter: { unreadable: number }) {
  const candidates = [key, ...otherKeys(work.section, row)].filter((k) => k !== '');
  for (const candidate of new Set(candidates)) {
    const entry = entries?.get(candidate);
    if (entry) work.matcher!.classify(entry, null, row.line, work.fileIndex, false);
  }
  await work.problems.addRow([{ ...row.rejected!, key: key || undefined }]);
  if (key) await writeError(work, key, row.line);
  if (candidates.length === 0) counter.unreadable++;
}

const writeError = (work: UsersFileStaging, key: string, line: number) =>
  work.writers.users.write([work.runId, key.slice(0, 320), work.file, line, 'error', '', null, null, ...profileColumns.map(() => null), null, null]);

export const stagedUserColumns = ['run_id', 'user_key', 'file', 'line', 'status', 'record_hash', 'row_fingerprint', 'membership_digest', ...profileColumns, 'custom', 'source_record'];
