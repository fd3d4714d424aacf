import type { Knex } from 'knex';

/**
 * The mail outbox: every email is a row first, sent by a job, marked sent only after the SMTP
 * server accepted it. `dedupe_key` makes enqueueing idempotent (one report per run and state,
 * one invitation per user); `message_id` is fixed at enqueue, so a resend after a crash carries
 * the same Message-ID.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('mail_outbox', (t) => {
    t.bigIncrements('id');
    t.string('dedupe_key', 420).notNullable().unique();
    t.string('message_id', 255).notNullable();
    t.string('kind', 16).notNullable();
    t.integer('feed_id').unsigned();
    t.integer('run_id').unsigned();
    t.text('recipients').notNullable();
    t.text('subject').notNullable();
    t.text('text_body', 'mediumtext').notNullable();
    t.text('html_body', 'mediumtext');
    t.text('attachments', 'mediumtext');
    t.string('state', 16).notNullable();
    t.integer('attempts').notNullable().defaultTo(0);
    t.datetime('next_attempt_at', { precision: 3 }).notNullable();
    t.string('claimed_by', 128);
    t.datetime('claimed_until', { precision: 3 });
    t.text('last_error');
    t.datetime('created_at', { precision: 3 }).notNullable();
    t.datetime('sent_at', { precision: 3 });
    t.index(['state', 'next_attempt_at']);
    t.index(['kind', 'feed_id', 'sent_at']);
  });
  // The state a run was last reported in: the report job picks up runs whose state moved on.
  await knex.schema.alterTable('runs', (t) => {
    t.string('reported_state', 16);
  });
  // Runs from before mail existed are not reported now.
  await knex('runs').update({ reported_state: knex.ref('state') });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('runs', (t) => {
    t.dropColumn('reported_state');
  });
  await knex.schema.dropTableIfExists('mail_outbox');
}
