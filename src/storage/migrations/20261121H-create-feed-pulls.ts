import type { Knex } from 'knex';

/** Pull credentials (encrypted) and each feed's pull schedule state. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('feed_secrets', (t) => {
    t.integer('feed_id').unsigned().notNullable().references('feeds.id');
    t.string('name', 64).notNullable();
    // v1:<iv>:<tag>:<ciphertext>, AES-256-GCM under SLUICE_SECRET_KEY, bound to feed and name.
    t.text('value').notNullable();
    t.datetime('updated_at', { precision: 3 }).notNullable();
    t.primary(['feed_id', 'name']);
  });
  await knex.schema.createTable('feed_pulls', (t) => {
    t.integer('feed_id').unsigned().primary().references('feeds.id');
    // The schedule next_pull_at was computed from: a changed schedule is computed afresh.
    t.string('schedule', 255);
    t.datetime('next_pull_at', { precision: 3 });
    t.datetime('last_pull_at', { precision: 3 });
    t.integer('last_run_id').unsigned();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('feed_pulls');
  await knex.schema.dropTableIfExists('feed_secrets');
}
