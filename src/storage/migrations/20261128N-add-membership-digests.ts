import type { Knex } from 'knex';

/**
 * A digest of the memberships a user got from the memberships files of the run that last wrote
 * them (src/core/records/membershipDigest.ts), so a `full` run can skip a user whose record and
 * memberships rows are both unchanged without staging their memberships.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('directory_users', (t) => {
    // NULL: unknown (never computed, or changed since by a delta run or an application), which
    // equals no digest, so the next full run stages the user once more.
    t.string('membership_digest', 16);
  });
  await knex.schema.alterTable('staging_users', (t) => {
    t.string('membership_digest', 16);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('staging_users', (t) => t.dropColumn('membership_digest'));
  await knex.schema.alterTable('directory_users', (t) => t.dropColumn('membership_digest'));
}
