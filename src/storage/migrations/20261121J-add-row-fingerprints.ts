import type { Knex } from 'knex';

/**
 * Row fingerprints let a run skip the records that are exactly as the directory already holds
 * them, so a run that changes little costs little. `staging_absent` lists the directory users a
 * `full` run's files do not name, found while the files are read.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('directory_users', (t) => {
    // NULL until a run writes the user: such a user is compared field by field once more.
    t.string('row_fingerprint', 16);
  });
  await knex.schema.alterTable('staging_users', (t) => {
    t.string('row_fingerprint', 16);
  });
  await knex.schema.createTable('staging_absent', (t) => {
    t.integer('run_id').unsigned().notNullable();
    t.integer('user_id').unsigned().notNullable();
    t.index(['run_id', 'user_id']);
  });
  await knex.schema.alterTable('runs', (t) => {
    // Records found unchanged while the files were read; they are counted, never staged.
    t.integer('unchanged_rows').notNullable().defaultTo(0);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('runs', (t) => t.dropColumn('unchanged_rows'));
  await knex.schema.dropTableIfExists('staging_absent');
  await knex.schema.alterTable('staging_users', (t) => t.dropColumn('row_fingerprint'));
  await knex.schema.alterTable('directory_users', (t) => t.dropColumn('row_fingerprint'));
}
