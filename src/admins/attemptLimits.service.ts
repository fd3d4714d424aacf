import { toDbTime, type Db } from '../storage/dialect.js';

/**
 * A budget of attempts per subject (an account, an address, an SFTP user) within a window.
 * The window opens at the first attempt after the last one closed.
 */
export interface AttemptLimit {
  /** Names the kind of subject, so one table serves every limit (`sign-in:account`, `sftp:address`). */
  scope: string;
  max: number;
  windowMinutes: number;
}

const TABLE = 'attempt_limits';
const MAX_SUBJECT = 320;

const subjectOf = (subject: string) => subject.slice(0, MAX_SUBJECT);

/**
 * Takes one attempt from `subject`'s budget before the attempt is made; false when the budget is
 * spent. The taking is one conditional UPDATE in the database, so parallel attempts — in one
 * process or in several sharing the database — are counted one by one and never pass together.
 */
export async function takeAttempt(db: Db, limit: AttemptLimit, subject: string, retry = true): Promise<boolean> {
  const key = { scope: limit.scope, subject: subjectOf(subject) };
  const now = new Date();
  const since = toDbTime(new Date(now.getTime() - limit.windowMinutes * 60_000));
  await db(TABLE)
    .insert({ ...key, window_start: toDbTime(now), attempts: 0 })
    .onConflict(['scope', 'subject'])
    .ignore();
  // `attempts` is assigned before `window_start`, and MySQL evaluates SET left to right: both
  // CASEs still read the row's old window.
  const taken = await db(TABLE)
    .where(key)
    .andWhere((q) => q.where('window_start', '<', since).orWhere('attempts', '<', limit.max))
    .update({
      attempts: db.raw('CASE WHEN window_start < ? THEN 1 ELSE attempts + 1 END', [since]),
      window_start: db.raw('CASE WHEN window_start < ? THEN ? ELSE window_start END', [since, toDbTime(now)]),
    });
  if (Number(taken) === 1) return true;
  // forgetOldAttempts may have removed the row between the two statements: start it again, once.
  if (retry && !(await db(TABLE).where(key).first('attempts'))) return takeAttempt(db, limit, subject, false);
  return false;
}

/** Gives an attempt back: it did not happen (another limit refused it) or it must not count (it succeeded). */
export async function returnAttempt(db: Db, limit: AttemptLimit, subject: string): Promise<void> {
  await db(TABLE)
    .where({ scope: limit.scope, subject: subjectOf(subject) })
    .where('attempts', '>', 0)
    .update({ attempts: db.raw('attempts - 1') });
}

/**
 * Takes an attempt from every budget, or from none: the first limit that refuses is returned
 * (and the attempts already taken are given back); null when the attempt may go ahead.
 */
export async function takeAttempts(db: Db, budgets: [AttemptLimit, string][]): Promise<AttemptLimit | null> {
  const taken: [AttemptLimit, string][] = [];
  for (const [limit, subject] of budgets) {
    if (!(await takeAttempt(db, limit, subject))) {
      for (const [l, s] of taken) await returnAttempt(db, l, s);
      return limit;
    }
    taken.push([limit, subject]);
  }
  return null;
}

/** Forgets budgets whose window closed long ago, so the table stays as small as the recent traffic. */
export async function forgetOldAttempts(db: Db, olderThanMinutes: number): Promise<void> {
  await db(TABLE)
    .where('window_start', '<', toDbTime(new Date(Date.now() - olderThanMinutes * 60_000)))
    .delete();
}
