import type { Knex } from 'knex';

/**
 * Email keys are now compared after NFKC (a composed, decomposed or fullwidth spelling of one
 * address is one user). Users an email-keyed feed stored under another spelling are re-keyed,
 * so the next run finds them instead of creating them again and suspending the old ones. A key
 * whose normal form another user of the feed already has is left alone. The normalisation is
 * written out here, not imported, so this migration keeps meaning what it meant.
 */
const normalise = (key: string) => key.normalize('NFKC').toLowerCase();
const PAGE = 10_000;

export async function up(knex: Knex): Promise<void> {
  const feeds = (await knex('feeds').pluck('id')) as number[];
  for (const feedId of feeds) {
    if ((await keyKind(knex, feedId)) !== 'email') continue;
    for (let after = 0; ; ) {
      const rows = (await knex('directory_users')
        .where({ feed_id: feedId })
        .andWhere('id', '>', after)
        .orderBy('id')
        .limit(PAGE)
        .select('id', 'user_key')) as { id: number; user_key: string }[];
      for (const row of rows) {
        const key = normalise(row.user_key);
        if (key === row.user_key) continue;
        if (await knex('directory_users').where({ feed_id: feedId, user_key: key }).first('id')) continue;
        await knex.transaction(async (trx) => {
          // The fingerprint goes too: the next run compares the user field by field once.
          await trx('directory_users').where({ id: row.id }).update({ user_key: key, row_fingerprint: null });
          await trx('directory_memberships').where({ feed_id: feedId, user_key: row.user_key }).update({ user_key: key });
        });
      }
      if (rows.length < PAGE) break;
      after = Number(rows[rows.length - 1]!.id);
    }
  }
}

/** The key of the feed's last applied run, from its control file. */
async function keyKind(knex: Knex, feedId: number): Promise<string | undefined> {
  const runs = (await knex('runs').where({ feed_id: feedId, state: 'applied' }).whereNotNull('control_file').orderBy('id', 'desc').limit(20).pluck('control_file')) as string[];
  for (const text of runs) {
    try {
      const key = (JSON.parse(text.replace(/^\uFEFF/, '')) as { users?: { key?: unknown } }).users?.key;
      if (typeof key === 'string') return key;
    } catch {
      // not a readable control file: look at the one before
    }
  }
  return undefined;
}

export async function down(): Promise<void> {
  // The old spellings are not kept; normalised keys work with the code before this migration
  // only for addresses the source sends in that form.
}
