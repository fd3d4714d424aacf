import type { Knex } from 'knex';

/**
 * Personal API tokens: an operator's or admin's own credential for the run actions over HTTP
 * (PRODUCT §11). A table of their own, so that no source key or application token can pass for one.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('personal_tokens', (t) => {
    t.increments('id');
    t.integer('admin_id').unsigned().notNullable().index();
    t.string('label', 255).notNullable();
    t.string('prefix', 32).notNullable().unique();
    t.string('token_hash', 64).notNullable();
    t.datetime('created_at', { precision: 3 }).notNullable();
    t.datetime('last_used_at', { precision: 3 });
    t.datetime('revoked_at', { precision: 3 });
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('personal_tokens');
}
