import type { Knex } from 'knex';

/** A run's progress while it is worked on (phase, rows, rate), written by its worker every second. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('runs', (t) => {
    t.text('progress');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('runs', (t) => {
    t.dropColumn('progress');
  });
}
