import type { Knex } from 'knex';

/**
 * `last_seen_in_run` is written only when it says something the feed does not: 0 means "in the
 * feed's latest applied full run" (`feeds.last_full_run_id`), any other number is the last run
 * of a user who was missing from that run or has been in a delta or application run since. A
 * full run then writes nothing for a user whose record and presence did not change. The reading
 * rule, `COALESCE(NULLIF(u.last_seen_in_run, 0), f.last_full_run_id)`, is in the README.
 *
 * 0 rather than NULL: making the column nullable rebuilds the directory table on both
 * databases, and on SQLite the rebuild trips the memberships' foreign keys.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('feeds', (t) => {
    t.integer('last_full_run_id').unsigned();
  });
  // An application's user the run would not suspend stays listed as absent, so that its
  // `last_seen_in_run` still moves off 0.
  await knex.schema.alterTable('staging_absent', (t) => {
    t.boolean('kept').notNullable().defaultTo(false);
  });
  for (const feed of (await knex('feeds').select('id')) as { id: number }[]) {
    const latest = (await knex('runs')
      .where({ feed_id: feed.id, state: 'applied', mode: 'full' })
      .whereNotIn('channel', ['app', 'export'])
      .orderBy('finished_at', 'desc')
      .orderBy('id', 'desc')
      .first('id')) as { id: number } | undefined;
    if (!latest) continue;
    await knex('feeds').where({ id: feed.id }).update({ last_full_run_id: latest.id });
    await knex('directory_users').where({ feed_id: feed.id, state: 'active', last_seen_in_run: latest.id }).update({ last_seen_in_run: 0 });
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const feed of (await knex('feeds').whereNotNull('last_full_run_id').select('id', 'last_full_run_id')) as { id: number; last_full_run_id: number }[]) {
    await knex('directory_users').where({ feed_id: feed.id, last_seen_in_run: 0 }).update({ last_seen_in_run: feed.last_full_run_id });
  }
  // Plain DROP COLUMN (SQLite 3.35+): knex would rebuild `feeds` on SQLite, which the foreign
  // keys pointing at it refuse.
  await knex.raw('ALTER TABLE staging_absent DROP COLUMN kept');
  await knex.raw('ALTER TABLE feeds DROP COLUMN last_full_run_id');
}
