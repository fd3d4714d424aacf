import type { Knex } from 'knex';

/** The public directory schema that applications read (README, "The directory tables"). */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('directory_users', (t) => {
    t.increments('id');
    t.integer('feed_id').unsigned().notNullable().references('feeds.id');
    t.string('user_key', 320).notNullable().collate('utf8mb4_bin');
    userProfileColumns(t);
    t.string('state', 16).notNullable();
    t.text('locked_fields').notNullable();
    t.text('source_record', 'mediumtext');
    t.string('record_hash', 32).notNullable();
    t.datetime('created_at', { precision: 3 }).notNullable();
    t.datetime('updated_at', { precision: 3 }).notNullable();
    t.datetime('suspended_at', { precision: 3 });
    t.integer('created_in_run').unsigned().notNullable();
    t.integer('last_seen_in_run').unsigned().notNullable();
    t.unique(['feed_id', 'user_key']);
    t.index(['feed_id', 'email']);
    t.index(['feed_id', 'state']);
  });

  await knex.schema.createTable('directory_groups', (t) => {
    t.increments('id');
    t.integer('feed_id').unsigned().notNullable().references('feeds.id');
    t.string('code', 255).notNullable().collate('utf8mb4_bin');
    t.string('name', 255).notNullable();
    t.datetime('created_at', { precision: 3 }).notNullable();
    t.datetime('updated_at', { precision: 3 }).notNullable();
    t.integer('created_in_run').unsigned().notNullable();
    t.unique(['feed_id', 'code']);
  });

  await knex.schema.createTable('directory_memberships', (t) => {
    t.increments('id');
    t.integer('feed_id').unsigned().notNullable().references('feeds.id');
    t.integer('user_id').unsigned().notNullable().references('directory_users.id').onDelete('CASCADE');
    t.integer('group_id').unsigned().notNullable().references('directory_groups.id').onDelete('CASCADE');
    // The user's key and the group's code never change, so they are kept here too: diffs then
    // walk both sides in key order instead of jumping between tables.
    t.string('user_key', 320).notNullable().collate('utf8mb4_bin');
    t.string('group_code', 255).notNullable().collate('utf8mb4_bin');
    t.boolean('managed').notNullable().defaultTo(true);
    t.datetime('created_at', { precision: 3 }).notNullable();
    t.integer('created_in_run').unsigned();
    t.unique(['user_id', 'group_id']);
    t.unique(['feed_id', 'user_key', 'group_code']);
    t.index(['group_id']);
  });

  await knex.schema.createTable('directory_changes', (t) => {
    t.bigIncrements('seq');
    t.integer('run_id').unsigned().notNullable();
    t.integer('feed_id').unsigned().notNullable();
    t.string('entity', 16).notNullable();
    t.string('entity_key', 320).notNullable().collate('utf8mb4_bin');
    t.string('group_code', 255).collate('utf8mb4_bin');
    t.string('operation', 16).notNullable();
    t.text('before_values', 'mediumtext');
    t.text('after_values', 'mediumtext');
    t.datetime('created_at', { precision: 3 }).notNullable();
    t.index(['feed_id', 'seq']);
    t.index(['feed_id', 'entity', 'entity_key']);
  });
}

export function userProfileColumns(t: Knex.CreateTableBuilder): void {
  t.string('username', 255);
  t.string('email', 320);
  t.string('first_name', 255);
  t.string('last_name', 255);
  t.string('title', 255);
  t.string('job_title', 255);
  t.string('company', 255);
  t.string('country', 255);
  t.text('biography');
  t.text('additional_info');
  t.string('avatar_url', 2048);
  t.string('badge_url', 2048);
  t.text('custom');
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['directory_changes', 'directory_memberships', 'directory_groups', 'directory_users']) {
    await knex.schema.dropTableIfExists(table);
  }
}
