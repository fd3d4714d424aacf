import type { Knex } from 'knex';
import { setTimeout as delay } from 'node:timers/promises';
import { log } from '../log.js';
import type { Database } from './database.js';

/** Enough for a burst of servers contending for one feed; a deadlock that persists past it is a bug. */
const ATTEMPTS = 6;

/**
 * Runs `work` in a transaction, again from the start when MySQL chose it as a deadlock's victim:
 * InnoDB rolls the victim back whole and expects it to be retried. `work` must leave nothing
 * outside the database behind that a second attempt would trip over (do file moves last).
 */
export async function transactionRetryingDeadlocks<T>(database: Pick<Database, 'knex' | 'dialect'>, what: string, work: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await database.knex.transaction(work);
    } catch (error) {
      if (!database.dialect.isDeadlock(error) || attempt >= ATTEMPTS) throw error;
      log.info('a transaction was a deadlock victim; trying it again', { what, attempt });
      // Jittered, growing back-off so the transactions that met do not meet again in step.
      await delay(Math.random() * 20 * 2 ** attempt);
    }
  }
}
