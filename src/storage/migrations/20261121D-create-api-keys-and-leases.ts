import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('api_keys', (t) => {
    t.increments('id');
    t.integer('feed_id').unsigned().notNullable().references('feeds.id');
    // The first characters of the key, shown in lists and used to find the row; the rest is
    // only ever stored as a hash.
    t.string('prefix', 32).notNullable().unique();
    t.string('key_hash', 64).notNullable();
    t.string('label', 255);
    t.datetime('created_at', { precision: 3 }).notNullable();
    t.datetime('last_used_at', { precision: 3 });
    t.datetime('revoked_at', { precision: 3 });
  });
  // One row per scheduled job: whoever holds the lease runs the tick, across all processes.
  await knex.schema.createTable('job_leases', (t) => {
    t.string('name', 64).primary();
    t.string('owner', 128);
    t.datetime('expires_at', { precision: 3 });
    t.bigInteger('last_tick').notNullable().defaultTo(0);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('job_leases');
  await knex.schema.dropTableIfExists('api_keys');
}
