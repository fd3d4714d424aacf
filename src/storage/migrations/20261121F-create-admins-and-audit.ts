import type { Knex } from 'knex';

/** Admin accounts, their sessions, sign-in attempts (for rate limiting) and the audit log. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('admins', (t) => {
    t.increments('id');
    t.string('email', 320).notNullable().unique();
    t.string('role', 16).notNullable();
    // scrypt$<N>$<r>$<p>$<salt>$<hash>, so the cost can be raised without a migration.
    t.string('password_hash', 255).notNullable();
    t.datetime('created_at', { precision: 3 }).notNullable();
    t.datetime('last_sign_in_at', { precision: 3 });
  });
  await knex.schema.createTable('admin_sessions', (t) => {
    // SHA-256 of the cookie's token: a leaked table does not hand out sessions.
    t.string('token_hash', 64).primary();
    t.integer('admin_id').unsigned().notNullable().references('admins.id').onDelete('CASCADE');
    t.string('csrf_token', 64).notNullable();
    t.datetime('created_at', { precision: 3 }).notNullable();
    t.datetime('expires_at', { precision: 3 }).notNullable();
    t.index(['admin_id']);
  });
  await knex.schema.createTable('sign_in_attempts', (t) => {
    t.bigIncrements('id');
    t.string('email', 320).notNullable();
    t.string('ip', 64).notNullable();
    t.boolean('succeeded').notNullable();
    t.datetime('at', { precision: 3 }).notNullable();
    t.index(['email', 'at']);
    t.index(['ip', 'at']);
  });
  await knex.schema.createTable('audit_log', (t) => {
    t.bigIncrements('id');
    t.datetime('at', { precision: 3 }).notNullable();
    t.string('actor', 320).notNullable();
    t.string('action', 64).notNullable();
    t.string('target', 255).notNullable();
    t.text('details');
    t.index(['at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['audit_log', 'sign_in_attempts', 'admin_sessions', 'admins']) await knex.schema.dropTableIfExists(table);
}
