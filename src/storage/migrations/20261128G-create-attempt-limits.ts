import type { Knex } from 'knex';

/**
 * One counter per limited subject (an account, an address): taken with a single conditional
 * UPDATE before a password is checked, so parallel guesses — in one process or several — cannot
 * all slip past a limit that was read before any of them was counted.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('attempt_limits', (t) => {
    t.string('scope', 32).notNullable();
    t.string('subject', 320).notNullable();
    t.datetime('window_start', { precision: 3 }).notNullable();
    t.integer('attempts').notNullable();
    t.primary(['scope', 'subject']);
    t.index(['window_start']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('attempt_limits');
}
