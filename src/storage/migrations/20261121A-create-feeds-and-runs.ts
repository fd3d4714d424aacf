import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('feeds', (t) => {
    t.increments('id');
    t.string('slug', 64).notNullable().unique();
    t.string('name', 255).notNullable();
    t.text('settings').notNullable();
    t.text('control_file', 'mediumtext');
    t.string('profile_edit_url', 2048);
    t.integer('directory_version').notNullable().defaultTo(0);
    t.datetime('created_at', { precision: 3 }).notNullable();
    t.datetime('updated_at', { precision: 3 }).notNullable();
  });

  await knex.schema.createTable('runs', (t) => {
    t.increments('id');
    t.integer('feed_id').unsigned().notNullable().references('feeds.id');
    t.string('state', 16).notNullable();
    t.string('channel', 16).notNullable();
    t.integer('reapply_of').unsigned();
    t.string('mode', 8);
    t.text('control_file', 'mediumtext');
    t.string('mapping_hash', 64);
    t.boolean('force_update').notNullable().defaultTo(false);
    t.integer('baseline_version');
    t.text('hold_reasons');
    t.text('counts');
    t.integer('row_count').notNullable().defaultTo(0);
    t.integer('error_count').notNullable().defaultTo(0);
    t.string('lease_owner', 128);
    t.datetime('lease_expires_at', { precision: 3 });
    t.datetime('created_at', { precision: 3 }).notNullable();
    t.datetime('updated_at', { precision: 3 }).notNullable();
    t.datetime('finished_at', { precision: 3 });
    t.index(['feed_id', 'state']);
    t.index(['state']);
  });

  await knex.schema.createTable('run_events', (t) => {
    t.increments('id');
    t.integer('run_id').unsigned().notNullable().references('runs.id');
    t.datetime('at', { precision: 3 }).notNullable();
    t.string('state', 16);
    t.string('actor', 255);
    t.text('message').notNullable();
    t.index(['run_id']);
  });

  await knex.schema.createTable('run_files', (t) => {
    t.increments('id');
    t.integer('run_id').unsigned().notNullable().references('runs.id');
    t.string('name', 255).notNullable();
    t.string('role', 8).notNullable();
    t.bigInteger('size').notNullable();
    t.string('sha256', 64).notNullable();
    t.string('storage_key', 1024).notNullable();
    t.boolean('purged').notNullable().defaultTo(false);
    t.datetime('created_at', { precision: 3 }).notNullable();
    t.unique(['run_id', 'name']);
  });

  await knex.schema.createTable('run_errors', (t) => {
    t.bigIncrements('id');
    t.integer('run_id').unsigned().notNullable().references('runs.id');
    t.string('level', 4).notNullable();
    t.string('file', 255);
    t.integer('line');
    t.integer('column_number');
    t.string('pointer', 512);
    t.string('code', 64).notNullable();
    t.text('message').notNullable();
    t.string('record_key', 320);
    t.index(['run_id']);
  });

  await knex.schema.createTable('run_changes', (t) => {
    t.bigIncrements('id');
    t.integer('run_id').unsigned().notNullable();
    t.string('entity', 16).notNullable();
    t.string('op', 16).notNullable();
    t.string('entity_key', 320).notNullable().collate('utf8mb4_bin');
    t.string('group_code', 255).collate('utf8mb4_bin');
    t.text('before_values', 'mediumtext');
    t.text('after_values', 'mediumtext');
    t.index(['run_id', 'entity', 'op']);
    t.index(['run_id', 'entity', 'entity_key']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['run_changes', 'run_errors', 'run_files', 'run_events', 'runs', 'feeds']) {
    await knex.schema.dropTableIfExists(table);
  }
}
