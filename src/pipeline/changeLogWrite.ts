import type { Knex } from 'knex';
import type { Context } from '../context.js';

/**
 * Copies a run's change set into `directory_changes` with numbers that follow commit order.
 *
 * The counter row is locked here, as late in the apply transaction as possible, and stays locked
 * until the transaction ends: applies of different feeds wait for each other only for this
 * insert and their commit. A transaction that reads position P can only do so once every number
 * up to P has committed, so a reader that remembers the last `commit_seq` it processed never
 * finds a lower one appearing later. A rollback gives its numbers back with the counter, so the
 * numbers have no gaps.
 */
export async function writeChangeLog(ctx: Context, trx: Knex.Transaction, runId: number, feedId: number, now: string): Promise<void> {
  const { dialect } = ctx.database;
  // Counted before the lock is taken: the run's change set does not change while it applies.
  const counted = (await trx('run_changes').where({ run_id: runId }).first(trx.raw('COUNT(*) AS n'), trx.raw('MIN(id) AS lo'), trx.raw('MAX(id) AS hi'))) as
    | { n: number | string; lo: number | string | null; hi: number | string | null }
    | undefined;
  const n = Number(counted?.n ?? 0);
  if (n === 0) return;
  const counter = await dialect.forUpdate(trx('directory_change_counter').where({ id: 1 }).first('position'));
  const position = Number(counter.position);
  // The change set's ids are usually one unbroken range: then its numbers are the ids moved,
  // without ROW_NUMBER(), which sorts the whole change set once more (a third of the copy's time
  // for a first import). Interleaved with another run's change set, they are counted.
  const lowest = Number(counted!.lo);
  const unbroken = Number(counted!.hi) - lowest + 1 === n;
  await trx.raw(
    `INSERT INTO directory_changes (commit_seq, run_id, feed_id, entity, entity_key, group_code, operation, before_values, after_values, created_at)
     SELECT ${unbroken ? '? + c.id' : '? + ROW_NUMBER() OVER (ORDER BY c.id)'}, c.run_id, ?, c.entity, c.entity_key, c.group_code, c.op, c.before_values, c.after_values, ?
       FROM run_changes c WHERE c.run_id = ? ORDER BY c.id`,
    [unbroken ? position - lowest + 1 : position, feedId, now, runId],
  );
  await trx('directory_change_counter').where({ id: 1 }).update({ position: position + n });
}
