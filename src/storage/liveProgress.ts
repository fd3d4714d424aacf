import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ProgressSnapshot } from '../pipeline/progress.js';
import type { Db } from './dialect.js';
import { sqliteFileOf } from './dialects/sqlite.js';

/**
 * A run's progress kept beside an SQLite database file instead of in the run's row. SQLite has
 * one writer for the whole file: while a run's apply transaction is open (BEGIN IMMEDIATE) no
 * other connection can write the row, and a write that waits for it blocks its whole thread
 * (better-sqlite3 is synchronous) — the server's pages with it. A small file per run can be
 * written at any time and read by every process sharing the database. On MySQL the row itself
 * can be written meanwhile, and these do nothing.
 */
function pathOf(db: Db, runId: number): string | null {
  const file = sqliteFileOf(db);
  return file && join(`${file}-progress`, `${Number(runId)}.json`);
}

/**
 * Whether the progress was kept beside the database (false: write it to the run's row). Written
 * synchronously, a few hundred bytes: an asynchronous write would complete only once the
 * thread's next SQLite statement (synchronous, possibly long) has ended.
 */
export function writeLiveProgress(db: Db, runId: number, snapshot: ProgressSnapshot): boolean {
  const path = pathOf(db, runId);
  if (!path) return false;
  mkdirSync(dirname(path), { recursive: true });
  // Renamed into place: a reader never sees half a file.
  const temporary = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  writeFileSync(temporary, JSON.stringify(snapshot));
  renameSync(temporary, path);
  return true;
}

export async function readLiveProgress(db: Db, runId: number): Promise<ProgressSnapshot | null> {
  const path = pathOf(db, runId);
  if (!path) return null;
  try {
    return JSON.parse(await readFile(path, 'utf8')) as ProgressSnapshot;
  } catch {
    return null;
  }
}

export async function clearLiveProgress(db: Db, runId: number): Promise<void> {
  const path = pathOf(db, runId);
  if (path) await rm(path, { force: true });
}
