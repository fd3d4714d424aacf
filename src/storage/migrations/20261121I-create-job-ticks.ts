import type { Knex } from 'knex';

/** Which process ran which tick of which scheduled job: operators see where work happened. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('job_ticks', (t) => {
    t.bigIncrements('id');
    t.string('name', 64).notNullable();
    t.bigInteger('tick').notNullable();
    t.string('owner', 128).notNullable();
    t.datetime('started_at', { precision: 3 }).notNullable();
    t.index(['name', 'tick']);
    t.index(['started_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('job_ticks');
}
