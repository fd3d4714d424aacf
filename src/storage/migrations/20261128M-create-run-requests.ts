import type { Knex } from 'knex';

/**
 * Work a person asked for from the admin page or the API (apply a held run, re-apply, re-validate,
 * sync now), recorded by the request and done by a run executor, so that no run's CPU work shares
 * the HTTP server's event loop. A row lives from the request until an executor takes it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('run_requests', (t) => {
    t.increments('id');
    t.integer('run_id').notNullable();
    t.integer('feed_id').notNullable();
    t.string('action', 32).notNullable();
    t.string('actor', 320);
    t.datetime('requested_at', { precision: 3 }).notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('run_requests');
}
