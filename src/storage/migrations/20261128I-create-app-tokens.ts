import type { Knex } from 'knex';

/**
 * Application tokens: what an application reading the directory presents. Kept apart from a
 * source's `api_keys` so that neither kind can ever pass for the other (PRODUCT §11).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('app_tokens', (t) => {
    t.increments('id');
    t.string('name', 255).notNullable();
    t.string('prefix', 32).notNullable().unique();
    t.string('token_hash', 64).notNullable();
    // The feed ids the token may reach, as a JSON array: a token spans a few feeds, never many.
    t.text('feed_ids').notNullable();
    t.string('scope', 8).notNullable();
    t.datetime('created_at', { precision: 3 }).notNullable();
    t.datetime('last_used_at', { precision: 3 });
    t.datetime('revoked_at', { precision: 3 });
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('app_tokens');
}
