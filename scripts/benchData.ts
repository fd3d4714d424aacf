/**
 * The bench's synthetic feed, written streaming (4 M users are about 600 MB) and with what each
 * phase must produce, so the bench checks Sluice's counts as well as its speed.
 *
 * Workload `a`: one users file whose GROUPS column holds each user's 3 groups.
 * Workload `b`: users.csv without that column, groups.csv (code, name) and memberships.csv
 * (user key, group code; 3 rows per user).
 *
 * The 5 % churn set picks users by index: i % 100 of 0 or 1 changes last name and job title,
 * 2 swaps its third group for another existing one, 3 is missing from the files (the feed
 * suspends them); and 1 % new users (keys after the last) come with their 3 memberships.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import { emptyCounts, type ChangeCounts } from '../src/core/changeCounts.js';

export type Workload = 'a' | 'b';

/** What the directory holds for the feed after a phase. */
export interface DirectoryTotals {
  active: number;
  suspended: number;
  memberships: number;
  groups: number;
}

export interface Expected {
  counts: ChangeCounts;
  directory: DirectoryTotals;
}

export interface GeneratedSet {
  folder: string;
  usersFile: string;
  /** The users present in the files. */
  users: number;
  /** On workload `a` written outside the folder, for the reference load only. */
  membershipsFile: string;
  expected: Expected;
}

export const GROUP_COUNT = 300;
/** Below this every group code may not be used yet, and the expected group counts would be off. */
export const MIN_ROWS = 1000;
const profileColumns = ['ID', 'EMAIL', 'FIRST', 'LAST', 'TITLE', 'JOB', 'COMPANY', 'COUNTRY', 'DEPT'];
export const usersColumns = (workload: Workload) => (workload === 'a' ? [...profileColumns, 'GROUPS'] : profileColumns);
export const membershipColumns = ['ID', 'GROUP_ID'];

type Role = 'same' | 'changed' | 'swapped' | 'missing';
const churnRole = (i: number): Role => (['changed', 'changed', 'swapped', 'missing'] as const)[i % 100] ?? 'same';

/** Three distinct groups from three ranges of codes (g0–g99, g100–g200, g201–g297); a swap moves the third. */
function groupsOf(i: number, swapped: boolean): [string, string, string] {
  return [`g${i % 100}`, `g${100 + (i % 101)}`, `g${201 + ((swapped ? i + 1 : i) % 97)}`];
}

function userLine(i: number, changed: boolean): string {
  const last = changed ? `Lastname${i % 1009}` : `Last${i % 1009}`;
  const job = changed ? `Senior Engineer ${i % 7}` : `Engineer ${i % 7}`;
  return `u${i},user${i}@example.org,First${i % 997},${last},Dr,${job},Company ${i % 113},NL,Dept ${i % 17}`;
}

/** A file written through a 64 KB buffer that waits for the disk when the stream asks to. */
class LineFile {
  private readonly out: WriteStream;
  private buffer: string;

  constructor(path: string, header: string[]) {
    this.out = createWriteStream(path);
    this.buffer = header.join(',') + '\n';
  }

  /** A promise only when the stream's buffer is full: awaiting every line would cost more than writing it. */
  write(line: string): Promise<unknown> | undefined {
    this.buffer += line + '\n';
    if (this.buffer.length < 65536) return undefined;
    const ok = this.out.write(this.buffer);
    this.buffer = '';
    return ok ? undefined : once(this.out, 'drain');
  }

  async close() {
    this.out.end(this.buffer);
    await once(this.out, 'finish');
  }
}

function controlFile(workload: Workload) {
  const fields: Record<string, unknown> = {
    username: 'ID', email: 'EMAIL', firstName: 'FIRST', lastName: 'LAST', title: 'TITLE', jobTitle: 'JOB',
    company: 'COMPANY', country: 'COUNTRY', 'custom.department': 'DEPT',
  };
  if (workload === 'a') {
    return { version: 1, mode: 'full', files: { 'users.csv': { type: 'users' } }, users: { key: 'username', fields: { ...fields, groups: { column: 'GROUPS', split: ';' } } } };
  }
  return {
    version: 1,
    mode: 'full',
    files: { 'users.csv': { type: 'users' }, 'groups.csv': { type: 'groups' }, 'memberships.csv': { type: 'memberships' } },
    users: { key: 'username', fields },
    groups: { fields: { code: 'GROUP_ID', name: 'GROUP_NAME' } },
    memberships: { fields: { user: 'ID', group: 'GROUP_ID' } },
  };
}

/**
 * Writes one upload set: the first import's (`churn` false) or the 5 % churn run's. The churn
 * set's expectations assume the first set was applied and nothing since.
 */
export async function writeSet(workload: Workload, rows: number, folder: string, churn: boolean, referenceDir: string): Promise<GeneratedSet> {
  await mkdir(folder, { recursive: true });
  await mkdir(referenceDir, { recursive: true });
  const usersFile = join(folder, 'users.csv');
  const membershipsFile = workload === 'b' ? join(folder, 'memberships.csv') : join(referenceDir, `memberships-${churn ? 'churn' : 'first'}.csv`);
  const users = new LineFile(usersFile, usersColumns(workload));
  const memberships = new LineFile(membershipsFile, membershipColumns);
  const codes = new Set<string>();
  const tally = { present: 0, changed: 0, swapped: 0, missing: 0, added: 0 };

  const writeUser = async (i: number, role: Role) => {
    const groups = groupsOf(i, role === 'swapped');
    for (const code of groups) codes.add(code);
    const line = userLine(i, role === 'changed');
    const pending = users.write(workload === 'a' ? `${line},${groups.join(';')}` : line);
    if (pending) await pending;
    for (const code of groups) {
      const full = memberships.write(`u${i},${code}`);
      if (full) await full;
    }
    tally.present++;
  };
  for (let i = 0; i < rows; i++) {
    const role = churn ? churnRole(i) : 'same';
    if (role !== 'same') tally[role]++;
    if (role !== 'missing') await writeUser(i, role);
  }
  if (churn) for (let k = 0; k < Math.floor(rows / 100); k++, tally.added++) await writeUser(rows + k, 'same');
  await users.close();
  await memberships.close();

  if (workload === 'b') {
    const groups = new LineFile(join(folder, 'groups.csv'), ['GROUP_ID', 'GROUP_NAME']);
    for (let g = 0; g < GROUP_COUNT; g++) groups.write(`g${g},Group ${g}`);
    await groups.close();
    // Every code a membership names is in groups.csv: a membership never creates a group here.
    for (let g = 0; g < GROUP_COUNT; g++) codes.add(`g${g}`);
  }
  await writeFile(join(folder, 'control.json'), JSON.stringify(controlFile(workload), null, 2));
  return { folder, usersFile, users: tally.present, membershipsFile, expected: churn ? churnExpected(rows, tally, codes.size) : firstExpected(rows, codes.size) };
}

function firstExpected(rows: number, groups: number): Expected {
  const counts = emptyCounts();
  counts.users.created = rows;
  counts.groups.created = groups;
  counts.memberships.added = 3 * rows;
  return { counts, directory: { active: rows, suspended: 0, memberships: 3 * rows, groups } };
}

/** A re-run of the same files: nothing changes, every user is unchanged. */
export function noChangeExpected(first: Expected): Expected {
  const counts = emptyCounts();
  counts.users.unchanged = first.directory.active;
  return { counts, directory: { ...first.directory } };
}

function churnExpected(rows: number, t: { changed: number; swapped: number; missing: number; added: number }, groups: number): Expected {
  const counts = emptyCounts();
  counts.users.created = t.added;
  counts.users.updated = t.changed;
  counts.users.suspended = t.missing;
  // Swapped users' profiles are as before: only their memberships change.
  counts.users.unchanged = rows - t.missing - t.changed;
  counts.memberships.added = t.swapped + 3 * t.added;
  counts.memberships.removed = t.swapped;
  // Suspension keeps a user's memberships (it is reversible); the swap's codes all exist already.
  return {
    counts,
    directory: { active: rows - t.missing + t.added, suspended: t.missing, memberships: 3 * rows + 3 * t.added, groups },
  };
}
