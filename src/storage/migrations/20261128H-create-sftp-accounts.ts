import type { Knex } from 'knex';

/**
 * Logins of the built-in SFTP endpoint, one or more per feed: a password (stored as a scrypt
 * hash, like admin passwords) or a public key (stored whole: it is public; the fingerprint is
 * what people compare).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('sftp_accounts', (t) => {
    t.increments('id');
    t.integer('feed_id').unsigned().notNullable().references('feeds.id');
    t.string('username', 64).notNullable().unique();
    t.string('password_hash', 255);
    t.string('key_type', 32);
    t.text('public_key');
    t.string('key_fingerprint', 64);
    t.datetime('created_at', { precision: 3 }).notNullable();
    t.datetime('last_login_at', { precision: 3 });
    t.string('last_login_address', 64);
    t.index(['feed_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('sftp_accounts');
}
