import type { Knex } from 'knex';

/**
 * On MySQL a TEXT column holds 65 535 *bytes*, not characters: a biography of 40 000 two-byte
 * characters was cut to 32 767 of them, and twenty custom fields of 4 000 characters cut the
 * custom JSON. MEDIUMTEXT (16 MiB) holds every documented limit (README, "Limits") in any
 * script. SQLite's TEXT has no length, so there this changes nothing a reader can see.
 */
const columns = ['biography', 'additional_info', 'custom'];

export async function up(knex: Knex): Promise<void> {
  for (const table of ['directory_users', 'staging_users']) {
    await knex.schema.alterTable(table, (t) => {
      for (const c of columns) t.text(c, 'mediumtext').alter();
    });
  }
  // A value cut at the TEXT limit ends 0-3 bytes short of 65 535 bytes, while its record hash
  // was computed from the whole value, so every later run called the user unchanged. Forget
  // the hash and fingerprint of such users: the next run compares them field by field, stores
  // the whole value and logs the update. (A cut `custom` never applied: it was invalid JSON.)
  await knex('directory_users')
    .where((q) => {
      for (const c of ['biography', 'additional_info']) q.orWhereRaw(`OCTET_LENGTH(${c}) BETWEEN 65532 AND 65535`);
    })
    .update({ record_hash: '', row_fingerprint: null });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['directory_users', 'staging_users']) {
    await knex.schema.alterTable(table, (t) => {
      for (const c of columns) t.text(c).alter();
    });
  }
}
