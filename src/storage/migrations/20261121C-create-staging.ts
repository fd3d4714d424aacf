import type { Knex } from 'knex';
import { userProfileColumns } from './20261121B-create-directory.js';

/**
 * Staging tables hold a run's validated records while its change set is computed and reviewed,
 * so the diff runs in the database and memory does not grow with the number of rows.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('staging_users', (t) => {
    t.integer('run_id').unsigned().notNullable();
    t.string('user_key', 320).notNullable().collate('utf8mb4_bin');
    t.string('file', 255).notNullable();
    t.integer('line').notNullable();
    // ok: apply it; delete: the delete flag is set; error: the row was rejected, but its key
    // still counts as present so the missing-record policy never touches that user.
    t.string('status', 8).notNullable();
    t.string('record_hash', 32).notNullable();
    userProfileColumns(t);
    t.text('source_record', 'mediumtext');
    t.index(['run_id', 'user_key', 'status']);
  });
  await knex.schema.createTable('staging_groups', (t) => {
    t.integer('run_id').unsigned().notNullable();
    t.string('code', 255).notNullable().collate('utf8mb4_bin');
    t.string('name', 255);
    t.string('file', 255).notNullable();
    t.integer('line').notNullable();
    t.index(['run_id', 'code']);
  });
  await knex.schema.createTable('staging_memberships', (t) => {
    t.integer('run_id').unsigned().notNullable();
    t.string('user_key', 320).notNullable().collate('utf8mb4_bin');
    t.string('group_code', 255).notNullable().collate('utf8mb4_bin');
    t.string('file', 255).notNullable();
    t.integer('line').notNullable();
    t.index(['run_id', 'user_key', 'group_code']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['staging_memberships', 'staging_groups', 'staging_users']) await knex.schema.dropTableIfExists(table);
}
