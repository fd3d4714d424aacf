import { Readable } from 'node:stream';
import { takeAttempt, type AttemptLimit } from '../admins/attemptLimits.service.js';
import { recordAudit } from '../audit/audit.service.js';
import type { Context } from '../context.js';
import { CONTROL_FILE_NAME } from '../core/control/controlFile.js';
import { redactUrl } from '../core/redactUrl.js';
import { readUser, type PresentedUser } from '../directory/directoryRead.service.js';
import { notFound, SluiceError, usageError } from '../errors.js';
import type { Feed } from '../feeds/feeds.service.js';
import { addRunFile, queueRun, startRun } from '../pipeline/intake.js';
import { processQueue } from '../pipeline/queue.js';
import { PullError, pullOneRecord } from '../pull/pullClient.js';
import { pullTarget } from '../pull/pullFeed.js';
import { addRunEvent, getRun, type Run } from '../runs/runs.service.js';

/** On-demand syncs per feed: a sign-in storm must not become a storm against the source's API. */
export const userSyncLimit: AttemptLimit = { scope: 'app-sync:feed', max: 120, windowMinutes: 1 };

/** `pullUserUrl` with the user's key and address filled in, each URL-encoded. */
export function userUrl(template: string, values: { key: string; email: string | null }): URL {
  const filled = template.replace(/\{(key|email)\}/g, (_, name: 'key' | 'email') => {
    const value = values[name];
    if (value === null) throw notFound('user', values.key);
    return encodeURIComponent(value);
  });
  return new URL(filled);
}

/**
 * The stored control file of a pulling feed, as a `delta` set: the one record changes that user
 * and nobody else — no one is missing from a delta.
 */
function deltaControl(feed: Feed): string {
  const control = JSON.parse(feed.controlFile!) as { mode: string; emptyOnPurpose?: boolean; files: Record<string, { rows?: number; sha256?: string }> };
  control.mode = 'delta';
  delete control.emptyOnPurpose;
  for (const spec of Object.values(control.files)) {
    delete spec.rows;
    delete spec.sha256;
  }
  return JSON.stringify(control, null, 2);
}

/**
 * The key of a JSON record that plainly names another user than `key`, else null. Only a key
 * column mapped without transforms is compared; anything else is left to the pipeline.
 */
function otherUserIn(feed: Feed, record: unknown, key: string): string | null {
  const users = (JSON.parse(feed.controlFile!) as { users?: { key: string; fields: Record<string, string | { column?: string; transform?: unknown[]; map?: unknown }> } }).users;
  const mapping = users?.fields[users.key];
  const column = typeof mapping === 'string' ? mapping : mapping && !mapping.transform && !mapping.map ? mapping.column : undefined;
  if (!column || !record || typeof record !== 'object') return null;
  const value = (record as Record<string, unknown>)[column];
  if (value === undefined || value === null) return null;
  const same = users!.key === 'email' ? String(value).trim().toLowerCase() === key.trim().toLowerCase() : String(value).trim() === key;
  return same ? null : String(value);
}

/**
 * Fetches one user from the source (`pullUserUrl`, the pull's authentication) and applies it as
 * a one-record delta run through the normal pipeline: validated, judged by the hold rules,
 * written to the change log. Answers with the run and, once applied, the user.
 */
export async function syncOneUser(ctx: Context, feed: Feed, key: string, actor: string): Promise<{ run: Run; user: PresentedUser | null }> {
  const db = ctx.database.knex;
  const template = feed.settings.pullUserUrl;
  if (!template) throw usageError(`feed ${feed.slug} has no pullUserUrl: npx sluice feed set ${feed.slug} pullUserUrl 'https://…/users/{key}'`);
  const { name } = pullTarget(feed);
  const known = await db('directory_users').where({ feed_id: feed.id, user_key: key }).first('email');
  const keyIsEmail = (JSON.parse(feed.controlFile!) as { users?: { key?: string } }).users?.key === 'email';
  const url = userUrl(template, { key, email: known?.email ?? (keyIsEmail ? key : null) });
  if (!(await takeAttempt(db, userSyncLimit, String(feed.id)))) {
    throw new SluiceError('too_many_attempts', `more than ${userSyncLimit.max} on-demand syncs of feed ${feed.slug} in a minute; try again shortly`);
  }

  let fetched: Awaited<ReturnType<typeof pullOneRecord>>;
  try {
    fetched = await pullOneRecord(ctx, feed, url);
  } catch (error) {
    if (error instanceof PullError) throw new SluiceError('source_failed', error.message);
    throw error;
  }
  if (fetched.records === 0) throw new SluiceError('not_found', `the source has no user ${key} (${redactUrl(url)} answered ${fetched.status === 404 ? '404' : 'no record'})`);
  if (fetched.records > 1) throw new SluiceError('source_failed', `${redactUrl(url)} answered ${fetched.records} records for one user; nothing was applied`);
  const other = otherUserIn(feed, fetched.first, key);
  if (other !== null) throw new SluiceError('source_failed', `${redactUrl(url)} answered the record of ${JSON.stringify(other)}, not of ${key}; nothing was applied`);

  const run = await startRun(ctx, feed, 'pull', { actor });
  await addRunEvent(db, run.id, `syncing user ${key} on demand from ${redactUrl(url)} for ${actor}`);
  await addRunFile(ctx, run, feed, name, { stream: Readable.from([fetched.payload]) });
  await addRunFile(ctx, run, feed, CONTROL_FILE_NAME, { stream: Readable.from([Buffer.from(deltaControl(feed))]) });
  await queueRun(ctx, run.id);
  await recordAudit(db, { actor, action: 'user.sync', target: `feed ${feed.slug}`, details: { run: run.id, key } });
  await processQueue(ctx, { feedId: feed.id });
  const done = await getRun(db, run.id);
  const user = done.state === 'applied' ? await readUser(db, feed.id, key).catch(() => null) : null;
  return { run: done, user };
}
