import type { Knex } from 'knex';

/**
 * When the worker holding a run last proved it is alive, so the run page can tell a live worker
 * from a dead one before an administrator marks the run cancelled.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('runs', (t) => {
    t.datetime('heartbeat_at', { precision: 3 });
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('runs', (t) => {
    t.dropColumn('heartbeat_at');
  });
}
