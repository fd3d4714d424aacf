import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { parseS3Url, s3Client } from '../channels/s3Inbox.js';
import type { Context } from '../context.js';
import { emptyCounts } from '../core/changeCounts.js';
import type { UsersSection } from '../core/control/types.js';
import { getDirectoryUser } from '../directory/directory.service.js';
import { buffer } from 'node:stream/consumers';
import { archiveKey } from '../archive/archive.js';
import type { HoldReason } from '../core/holds.js';
import { invalidState, SluiceError, usageError } from '../errors.js';
import { getFeed, type Feed } from '../feeds/feeds.service.js';
import { addRunFile, startRun } from '../pipeline/intake.js';
import { addRunEvent, getRun, runFiles, transition, updateRunFields, type Run } from '../runs/runs.service.js';
import { toDbTime } from '../storage/dialect.js';
import { redactUrl, redactUrlsIn } from '../core/redactUrl.js';
import { buildExportSet, type ExportedUser } from './exportSet.js';
import { putExportFiles } from './httpTarget.js';

export interface ExportResult {
  run: Run;
  /** Where it went; null while it is held. */
  target: string | null;
  users: number;
}

/** A folder as it is; a URL (s3://, https://) without user-info or query string. */
const shownTarget = (target: string) => (/^[a-z][a-z0-9+.-]*:\/\//i.test(target) ? redactUrl(target) : target);

const keyKindOf = (feed: Feed): UsersSection['key'] =>
  (JSON.parse(feed.controlFile ?? '{}') as { users?: { key?: string } }).users?.key === 'email' ? 'email' : 'username';

/** The users the application changed after the last export, as they are now; the position covered. */
async function changedSinceLastExport(ctx: Context, feed: Feed): Promise<{ users: ExportedUser[]; upto: number }> {
  const db = ctx.database.knex;
  // A held export counts as sent (it is waiting for review); a cancelled one does not.
  const [last] = (await db('app_exports as e')
    .join('runs as r', 'r.id', 'e.run_id')
    .where('e.feed_id', feed.id)
    .whereIn('r.state', ['applied', 'held'])
    .max({ n: 'e.upto_commit_seq' })) as { n: number | string | null }[];
  const rows = (await db('directory_changes as c')
    .join('runs as r', 'r.id', 'c.run_id')
    .where({ 'c.feed_id': feed.id, 'r.channel': 'app' })
    .where('c.commit_seq', '>', Number(last?.n ?? 0))
    .whereIn('c.entity', ['user', 'membership'])
    .orderBy('c.commit_seq')
    .select('c.entity_key', 'c.commit_seq')) as { entity_key: string; commit_seq: number }[];
  const keys = [...new Set(rows.map((r) => r.entity_key))];
  const users: ExportedUser[] = [];
  for (const key of keys) {
    const user = await getDirectoryUser(db, feed.id, key).catch(() => null);
    const groups = user ? ((await db('directory_memberships').where({ feed_id: feed.id, user_key: key, managed: false }).orderBy('group_code').pluck('group_code')) as string[]) : [];
    users.push({ key, deleted: !user, fields: user ? Object.fromEntries(user.fields.map((f) => [f.name, f.value])) : {}, groups });
  }
  return { users, upto: rows.length ? Number(rows[rows.length - 1]!.commit_seq) : 0 };
}

/** Writes the files under `<exportTo>/<feed>-<run>/`, data first and the control file last, each whole when it appears. */
async function deliver(ctx: Context, feed: Feed, runId: number, files: Record<string, string>): Promise<string> {
  const target = feed.settings.exportTo!;
  const names = [...Object.keys(files).filter((n) => n !== 'control.json'), 'control.json'];
  const folder = `${feed.slug}-${runId}`;
  if (target.startsWith('s3://')) {
    const { bucket, prefix } = parseS3Url(target);
    const client = s3Client(ctx.config.s3);
    try {
      for (const name of names) await client.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}${folder}/${name}`, Body: Buffer.from(files[name]!) }));
    } finally {
      client.destroy();
    }
    return `s3://${bucket}/${prefix}${folder}/`;
  }
  if (target.startsWith('/')) {
    const dir = join(target, folder);
    await mkdir(dir, { recursive: true });
    for (const name of names) {
      await writeFile(join(dir, `.${name}.tmp`), files[name]!);
      await rename(join(dir, `.${name}.tmp`), join(dir, name));
    }
    return dir;
  }
  if (/^https?:\/\//i.test(target)) return putExportFiles(ctx, feed, runId, names);
  throw usageError(`exporting to ${shownTarget(target)} is not supported: use a folder, an s3:// prefix or an https:// URL`);
}

/**
 * Sends the application's changes since the last export back to the source, as an upload set
 * in Sluice's own format: archived with an `export` run, which is reported like any run. Null
 * when there is nothing new to send.
 */
export async function exportAppChanges(ctx: Context, feed: Feed, actor?: string): Promise<ExportResult | null> {
  if (!feed.settings.exportTo) throw usageError(`feed ${feed.slug} has no exportTo: npx sluice feed set ${feed.slug} exportTo /path/or/s3://bucket/prefix`);
  const db = ctx.database.knex;
  const { users, upto } = await changedSinceLastExport(ctx, feed);
  if (!users.length) return null;
  const files = buildExportSet(users, keyKindOf(feed), feed.settings.exportFormat, feed.slug);
  const run = await startRun(ctx, feed, 'export', { actor });
  for (const [name, text] of Object.entries(files)) await addRunFile(ctx, run, feed, name, { stream: Readable.from([Buffer.from(text)]) });
  const counts = emptyCounts();
  counts.users.deleted = users.filter((u) => u.deleted).length;
  counts.users.updated = users.length - counts.users.deleted;
  const reasons = await exportHoldReasons(ctx, feed, counts.users.deleted);
  await db('app_exports').insert({ feed_id: feed.id, run_id: run.id, upto_commit_seq: upto, target: feed.settings.exportTo, users: users.length, created_at: toDbTime() });
  await updateRunFields(db, run.id, { mode: 'delta', counts: JSON.stringify(counts), row_count: users.length, hold_reasons: JSON.stringify(reasons) });
  if (reasons.length) {
    await transition(db, run.id, ['receiving'], 'held', { message: `held before sending: ${reasons.map((r) => r.message).join('; ')}`, actor });
    return { run: await getRun(db, run.id), target: null, users: users.length };
  }
  let target: string;
  try {
    target = await send(ctx, feed, run.id, files);
  } catch (error) {
    // Failed, not left receiving: its changes count as unsent, so the next export carries them again.
    const message = `the export to ${shownTarget(feed.settings.exportTo!)} failed, nothing is marked exported: ${redactUrlsIn(String((error as Error)?.message ?? error))}`;
    await transition(db, run.id, ['receiving'], 'failed', { message, actor });
    throw new SluiceError('source_failed', message);
  }
  await transition(db, run.id, ['receiving'], 'applied', { message: 'exported', actor });
  return { run: await getRun(db, run.id), target, users: users.length };
}

async function send(ctx: Context, feed: Feed, runId: number, files: Record<string, string>): Promise<string> {
  const db = ctx.database.knex;
  const target = await deliver(ctx, feed, runId, files);
  await db('app_exports').where({ run_id: runId }).update({ target, delivered_at: toDbTime() });
  await addRunEvent(db, runId, `exported ${Number((await getRun(db, runId)).rowCount)} users changed by applications to ${target}`);
  return target;
}

/** The removal rules of PRODUCT §5, applied to the deletions an export would send to the source. */
async function exportHoldReasons(ctx: Context, feed: Feed, deletions: number): Promise<HoldReason[]> {
  const s = feed.settings;
  const reasons: HoldReason[] = [];
  if (deletions > s.maxUserRemovals) {
    reasons.push({ rule: 'maxUserRemovals', message: `${deletions} users would be deleted at the source; the limit is ${s.maxUserRemovals}`, value: deletions, limit: s.maxUserRemovals });
  }
  const active = Number(((await ctx.database.knex('directory_users').where({ feed_id: feed.id, state: 'active' }).count({ n: '*' })) as { n: number | string }[])[0]!.n);
  const percent = active ? Math.round((deletions / active) * 1000) / 10 : 0;
  if (active >= s.minBaselineForPercent && percent > s.maxUserRemovalPercent) {
    reasons.push({ rule: 'maxUserRemovalPercent', message: `${deletions} of ${active} users (${percent} %) would be deleted at the source; the limit is ${s.maxUserRemovalPercent} %`, value: percent, limit: s.maxUserRemovalPercent });
  }
  return reasons;
}

/** An administrator approved a held export: its archived files are sent as they were made. */
export async function releaseExport(ctx: Context, runId: number, actor?: string): Promise<Run> {
  const db = ctx.database.knex;
  const run = await getRun(db, runId);
  if (run.state !== 'held') throw invalidState(`run ${runId} is ${run.state}; apply needs it to be held`, { state: run.state });
  const feed = await getFeed(db, run.feedId);
  const files: Record<string, string> = {};
  for (const file of await runFiles(db, runId)) files[file.name] = (await buffer(ctx.archive.read(archiveKey(feed.slug, runId, file.name)))).toString('utf8');
  await send(ctx, feed, runId, files);
  await transition(db, runId, ['held'], 'applied', { message: 'exported after review', actor });
  return getRun(db, runId);
}
