import { cp, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Context } from '../../src/context.js';
import { getFeed } from '../../src/feeds/feeds.service.js';
import { runFromFolder } from '../../src/pipeline/intake.js';
import { processQueue } from '../../src/pipeline/queue.js';
import { getRun, type Run } from '../../src/runs/runs.service.js';

export const samples = join(import.meta.dirname, '..', '..', 'sample-data');

/** Imports a folder into a feed the way `sluice import --keep` does, and returns the run. */
export async function importFolder(ctx: Context, feedSlug: string, folder: string): Promise<Run> {
  const feed = await getFeed(ctx.database.knex, feedSlug);
  const run = await runFromFolder(ctx, feed, folder, { keepSource: true });
  await processQueue(ctx, { feedId: feed.id });
  return getRun(ctx.database.knex, run.id);
}

/** Writes an upload set into a new temporary folder. */
export async function uploadSet(files: Record<string, string | Buffer | object>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-set-'));
  for (const [name, content] of Object.entries(files)) {
    await writeFile(join(dir, name), typeof content === 'string' || Buffer.isBuffer(content) ? content : JSON.stringify(content, null, 2));
  }
  return dir;
}

export async function copySample(name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-sample-'));
  await cp(join(samples, name), dir, { recursive: true });
  return dir;
}

/** A minimal control file for a users-only set. */
export const usersControl = (extra: Record<string, unknown> = {}) => ({
  version: 1,
  mode: 'full',
  files: { 'users.csv': { type: 'users' } },
  users: { key: 'username', fields: { username: 'id', email: 'email', firstName: 'first', lastName: 'last', groups: { column: 'groups', split: ';' } } },
  ...extra,
});

export const usersCsv = (rows: [string, string, string, string, string?][]) =>
  ['id,email,first,last,groups', ...rows.map((r) => [r[0], r[1], r[2], r[3], r[4] ?? ''].join(','))].join('\n') + '\n';
