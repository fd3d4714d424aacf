import type { Knex } from 'knex';

/**
 * Exports of an application's changes back to the source. `upto_commit_seq` is the change log
 * position the export covers: the next export starts after it, and a user the application
 * created at a lower position has been carried to the source.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('app_exports', (t) => {
    t.increments('id');
    t.integer('feed_id').unsigned().notNullable().references('feeds.id');
    t.integer('run_id').unsigned().notNullable();
    t.bigInteger('upto_commit_seq').unsigned().notNullable();
    t.string('target', 2048).notNullable();
    t.integer('users').notNullable();
    t.datetime('created_at', { precision: 3 }).notNullable();
    // Null while the export is held: the source has not been sent it yet.
    t.datetime('delivered_at', { precision: 3 });
    t.index(['feed_id', 'upto_commit_seq']);
  });
  // One row per feed with an exportSchedule: moving `next_export_at` on claims a slot, once.
  await knex.schema.createTable('export_schedules', (t) => {
    t.integer('feed_id').unsigned().primary().references('feeds.id');
    t.string('schedule', 255);
    t.datetime('next_export_at', { precision: 3 });
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('export_schedules');
  await knex.schema.dropTableIfExists('app_exports');
}
