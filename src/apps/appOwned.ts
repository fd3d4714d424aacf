import type { Knex } from 'knex';
import { userFields, type UserField } from '../core/control/types.js';
import { hashProfile, type Profile } from '../core/records/users.js';
import { profileColumns } from '../directory/userColumns.js';

const PAGE = 1000;
const isProfileField = (name: string): name is UserField => Object.hasOwn(userFields, name);

/**
 * A user's record hash as a source run computes it: over the profile fields the mapping names,
 * so a record the source sends unchanged compares equal to what the directory holds after the
 * application changed only its own fields (`appOwnedFields`, which the source run then keeps).
 * A value in any other field the mapping does not name counts too: the source's next record
 * for that user clears it (the fields the feed does not keep for the application are the
 * source's record), and the hash must differ so that the clearing is a change shown for review
 * and logged — not a silent overwrite while the user looks unchanged.
 */
export function recordHash(profile: Profile, custom: Record<string, unknown>, mappedFields: string[]): string {
  const picked: Profile = {};
  for (const field of mappedFields) {
    if (isProfileField(field)) picked[userFields[field].column] = profile[userFields[field].column] ?? null;
  }
  // Until such a field holds a value, the user hashes exactly as the source's run hashes it.
  for (const field of Object.keys(userFields) as UserField[]) {
    const value = profile[userFields[field].column] ?? null;
    if (!mappedFields.includes(field) && value !== null) picked[userFields[field].column] = value;
  }
  return hashProfile(picked, custom);
}

/**
 * Before a source run's change set is computed: the fields the application owns
 * (`appOwnedFields`) take the directory's values in the run's staged users, so the diff finds no
 * change in them and the apply writes back what the application set (PRODUCT §11).
 */
export async function keepAppOwnedFields(db: Knex, runId: number, feedId: number, mappedFields: string[], appOwned: string[]): Promise<void> {
  if (!appOwned.length) return;
  const columns = appOwned.filter(isProfileField).map((f) => userFields[f].column);
  const customNames = appOwned.filter((f) => f.startsWith('custom.')).map((f) => f.slice('custom.'.length));
  let after = '';
  for (;;) {
    const rows = (await db('staging_users as s')
      .join('directory_users as d', function () {
        this.on('d.user_key', '=', 's.user_key').andOn('d.feed_id', '=', db.raw('?', [feedId]));
      })
      .where({ 's.run_id': runId, 's.status': 'ok' })
      .andWhere('s.user_key', '>', after)
      .orderBy('s.user_key')
      .limit(PAGE)
      .select('s.user_key', 's.custom as s_custom', 'd.custom as d_custom', ...profileColumns.map((c) => `s.${c} as s_${c}`), ...columns.map((c) => `d.${c} as d_${c}`))) as Record<string, string | null>[];
    for (const row of rows) {
      const profile: Profile = Object.fromEntries(profileColumns.map((c) => [c, row[`s_${c}`] ?? null]));
      for (const c of columns) profile[c as keyof Profile] = row[`d_${c}`] ?? null;
      const custom = JSON.parse(row.s_custom ?? '{}') as Record<string, unknown>;
      const mine = JSON.parse(row.d_custom ?? '{}') as Record<string, unknown>;
      let differs = columns.some((c) => (row[`s_${c}`] ?? null) !== (row[`d_${c}`] ?? null));
      for (const name of customNames) {
        differs ||= JSON.stringify(custom[name] ?? null) !== JSON.stringify(mine[name] ?? null);
        if (Object.hasOwn(mine, name)) custom[name] = mine[name];
        else delete custom[name];
      }
      // Most users hold nothing of the application's: their staged row stays as the source sent it.
      if (!differs) continue;
      await db('staging_users')
        .where({ run_id: runId, user_key: row.user_key, status: 'ok' })
        .update({ ...Object.fromEntries(columns.map((c) => [c, profile[c as keyof Profile] ?? null])), custom: JSON.stringify(custom), record_hash: recordHash(profile, custom, mappedFields) });
    }
    if (rows.length < PAGE) break;
    after = rows[rows.length - 1]!.user_key!;
  }
}

/**
 * A user an application created is not "missing" from a source run until the source could have
 * known it: until an export carrying it was written before this run started. A full run that
 * lacks it before then leaves it alone; the first one after it decides as for any user
 * (README, "Two-way").
 */
export async function keepUnexportedAppUsers(db: Knex, runId: number, feedId: number): Promise<number> {
  // Driven from the run's absent users, one probe each: a `user_id IN (…)` list of the feed's
  // application users is built from the whole directory first on SQLite (2–4 s a million users).
  return db('staging_absent')
    .where({ run_id: runId })
    .whereExists(
      db('directory_users as d')
        .join('runs as r', function () {
          this.on('r.id', '=', 'd.created_in_run').andOn('r.channel', '=', db.raw('?', ['app']));
        })
        .join('directory_changes as c', function () {
          this.on('c.feed_id', '=', 'd.feed_id')
            .andOn('c.entity', '=', db.raw('?', ['user']))
            .andOn('c.entity_key', '=', 'd.user_key')
            .andOn('c.run_id', '=', 'd.created_in_run')
            .andOn('c.operation', '=', db.raw('?', ['create']));
        })
        .whereRaw('d.id = staging_absent.user_id')
        .where('d.feed_id', feedId)
        .whereNotExists(
          db('app_exports as e')
            .where('e.feed_id', feedId)
            .whereRaw('e.upto_commit_seq >= c.commit_seq')
            .whereRaw('e.delivered_at < (SELECT created_at FROM runs WHERE id = ?)', [runId])
            .select(db.raw('1')),
        )
        .select(db.raw('1')),
    )
    .update({ kept: true });
}
