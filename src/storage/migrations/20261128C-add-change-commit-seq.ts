import type { Knex } from 'knex';

/**
 * `directory_changes.seq` is handed out when a row is inserted, so on MySQL a transaction that
 * commits later can hold lower numbers than one that already committed, and a reader paging by
 * `seq` skips it. `commit_seq` is handed out from `directory_change_counter`, whose one row the
 * apply transaction locks until it commits: a number is given only after every lower one has
 * committed (README, "Reading the change log").
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('directory_change_counter', (t) => {
    t.integer('id').unsigned().primary();
    t.bigInteger('position').unsigned().notNullable();
  });
  // Default 0 only so the column can be added to a filled table; every row gets its own number
  // below, and apply always writes one.
  await knex.schema.alterTable('directory_changes', (t) => {
    t.bigInteger('commit_seq').unsigned().notNullable().defaultTo(0);
  });
  // Rows written before this migration have all committed: `seq` order is their commit order.
  await knex('directory_changes').update({ commit_seq: knex.ref('seq') });
  await knex.schema.alterTable('directory_changes', (t) => {
    t.unique(['commit_seq']);
    t.index(['feed_id', 'commit_seq']);
  });
  const [last] = (await knex('directory_changes').max({ n: 'commit_seq' })) as { n: number | string | null }[];
  await knex('directory_change_counter').insert({ id: 1, position: Number(last?.n ?? 0) });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('directory_changes', (t) => {
    t.dropIndex(['feed_id', 'commit_seq']);
    t.dropUnique(['commit_seq']);
    t.dropColumn('commit_seq');
  });
  await knex.schema.dropTableIfExists('directory_change_counter');
}
