import type { Knex } from 'knex';
import { profileColumns } from '../directory/userColumns.js';
import type { Dialect } from '../storage/dialect.js';
import { parseDigest } from '../core/records/membershipDigest.js';

export interface DirectoryEntry {
  id: number;
  active: boolean;
  fingerprint: string | null;
  /** Was in the feed's latest full run (`last_seen_in_run` 0): skipping it leaves that true. */
  inLatestFullRun: boolean;
  /** The digest of the memberships files' rows the user's memberships came from, if known (as a number: compared per record). */
  membershipDigest: number | null;
}

/** Where a record of a users file goes. */
export type Verdict = 'skip' | 'stage';

const SKIPPED = 0x8000_0000;
const LINE = 0x7fff_ffff;

/**
 * A feed's directory as a `full` run's users files meet it, a batch of keys at a time. It tells
 * which records are exactly as the directory holds them (skipped: counted unchanged, never
 * staged) and, at the end, which active users the files never named (`staging_absent`).
 *
 * Memory is one 32-bit word and one byte per directory id of the feed, never the keys: the
 * line where each user was first seen (its top bit says "skipped") and in which file.
 */
export class BaselineMatcher {
  private readonly lines: Uint32Array;
  private readonly files: Uint8Array;
  private seenActive = 0;
  /** Skipped records that turned out to have a second record in the set: staged after all. */
  private readonly unskipped: { id: number; fileIndex: number; line: number }[] = [];
  skipped = 0;

  private constructor(
    private readonly feedId: number,
    private readonly lowestId: number,
    size: number,
    readonly activeUsers: number,
  ) {
    this.lines = new Uint32Array(size);
    this.files = new Uint8Array(size);
  }

  /** Null when the feed has no users yet: every record is new, nothing can be absent. */
  static async open(db: Knex, feedId: number): Promise<BaselineMatcher | null> {
    const row = (await db('directory_users')
      .where({ feed_id: feedId })
      .first(db.raw('MIN(id) AS lo'), db.raw('MAX(id) AS hi'), db.raw("SUM(CASE WHEN state = 'active' THEN 1 ELSE 0 END) AS active"))) as
      | { lo: number | null; hi: number | null; active: number | string | null }
      | undefined;
    if (!row || row.lo === null || row.hi === null) return null;
    return new BaselineMatcher(feedId, Number(row.lo), Number(row.hi) - Number(row.lo) + 1, Number(row.active ?? 0));
  }

  /** The directory entries of the given keys (those that exist). */
  async lookup(db: Knex, keys: string[]): Promise<Map<string, DirectoryEntry>> {
    const wanted = [...new Set(keys.filter((k) => k !== ''))];
    const found = new Map<string, DirectoryEntry>();
    if (wanted.length === 0) return found;
    const rows = (await db('directory_users')
      .where({ feed_id: this.feedId })
      .whereIn('user_key', wanted)
      .select('id', 'user_key', 'state', 'row_fingerprint', 'last_seen_in_run', 'membership_digest')) as {
      id: number;
      user_key: string;
      state: string;
      row_fingerprint: string | null;
      last_seen_in_run: number | string;
      membership_digest: string | null;
    }[];
    for (const r of rows) {
      found.set(r.user_key, {
        id: Number(r.id),
        active: r.state === 'active',
        fingerprint: r.row_fingerprint,
        inLatestFullRun: Number(r.last_seen_in_run) === 0,
        membershipDigest: r.membership_digest === null ? null : parseDigest(r.membership_digest),
      });
    }
    return found;
  }

  /**
   * Marks the user as present and says whether the record can be skipped: only the first
   * record of an active user whose fingerprint is unchanged and who was in the feed's latest
   * full run (so that its `last_seen_in_run`, 0, stays true without a write). A second record of a skipped user
   * is a duplicate, so the first is staged after all (see `unskipped`) and both are rejected.
   */
  classify(entry: DirectoryEntry, fingerprint: string | null, line: number, fileIndex: number, skippable: boolean): Verdict {
    const i = entry.id - this.lowestId;
    // Created after this run's baseline was read: the apply will see the baseline moved.
    if (i < 0 || i >= this.lines.length) return 'stage';
    const previous = this.lines[i]!;
    if (previous === 0) {
      if (entry.active) this.seenActive++;
      this.files[i] = fileIndex;
      if (skippable && entry.active && entry.inLatestFullRun && fingerprint !== null && entry.fingerprint === fingerprint && line <= LINE) {
        this.lines[i] = (line | SKIPPED) >>> 0;
        this.skipped++;
        return 'skip';
      }
      this.lines[i] = Math.min(line, LINE);
      return 'stage';
    }
    if (previous & SKIPPED) {
      this.lines[i] = previous & LINE;
      this.skipped--;
      this.unskipped.push({ id: entry.id, fileIndex: this.files[i]!, line: previous & LINE });
    }
    return 'stage';
  }

  /** After the last users file: stages the unskipped records and writes the absent users (returns how many). */
  async finish(db: Knex, dialect: Dialect, runId: number, usersFiles: string[]): Promise<number> {
    await this.stageUnskipped(db, runId, usersFiles);
    return this.writeAbsent(db, dialect, runId);
  }

  /**
   * A skipped record whose user has a second record in the set is staged after all, from the
   * directory row it matched exactly, so the duplicate check sees (and rejects) both.
   */
  private async stageUnskipped(db: Knex, runId: number, usersFiles: string[]) {
    const copied = ['record_hash', 'row_fingerprint', 'membership_digest', ...profileColumns, 'custom', 'source_record'];
    for (const { id, fileIndex, line } of this.unskipped) {
      await db.raw(
        `INSERT INTO staging_users (run_id, user_key, file, line, status, ${copied.join(', ')})
         SELECT ?, user_key, ?, ?, 'ok', ${copied.join(', ')} FROM directory_users WHERE id = ?`,
        [runId, usersFiles[fileIndex]!, line, id],
      );
    }
  }

  /** Writes the feed's active users that no record named to `staging_absent`. */
  private async writeAbsent(db: Knex, dialect: Dialect, runId: number): Promise<number> {
    const missing = this.activeUsers - this.seenActive;
    if (missing === 0) return 0;
    let unseen = 0;
    for (let i = 0; i < this.lines.length; i++) if (this.lines[i] === 0) unseen++;
    const writer = await dialect.openBulkWriter(db, 'staging_absent', ['run_id', 'user_id']);
    let absent = 0;
    const write = async (ids: number[]) => {
      for (const id of ids) await writer.write([runId, Number(id)]);
      absent += ids.length;
    };
    try {
      // The ids no record named are known here; which of them are the feed's active users is
      // asked of them alone — in proportion to who went missing, not to the feed's size. Unless
      // they are far more than the missing users (other feeds' ids between this feed's).
      if (unseen <= 4 * missing + 10_000) {
        const candidates = this.unseenIds();
        for (let from = 0; from < candidates.length; from += 5_000) {
          const batch = candidates.slice(from, from + 5_000);
          await write((await db('directory_users').whereIn('id', batch).where({ feed_id: this.feedId, state: 'active' }).orderBy('id').pluck('id')) as number[]);
        }
      } else {
        for (let after = 0; ; ) {
          const ids = (await db('directory_users').where({ feed_id: this.feedId, state: 'active' }).andWhere('id', '>', after).orderBy('id').limit(20_000).pluck('id')) as number[];
          await write(ids.filter((raw) => this.lines[Number(raw) - this.lowestId] === 0));
          if (ids.length < 20_000) break;
          after = Number(ids[ids.length - 1]);
        }
      }
    } finally {
      await writer.close();
    }
    return absent;
  }

  /** The ids of the feed's range that no record named, in order. */
  private unseenIds(): number[] {
    const ids: number[] = [];
    for (let i = 0; i < this.lines.length; i++) if (this.lines[i] === 0) ids.push(this.lowestId + i);
    return ids;
  }
}
