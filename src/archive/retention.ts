import type { Context } from '../context.js';
import { listFeeds } from '../feeds/feeds.service.js';
import { log } from '../log.js';
import { toDbTime } from '../storage/dialect.js';

/**
 * Deletes archived files of finished runs older than each feed's `retentionDays`. The run, its
 * timeline, errors and change set stay forever; the files are marked `purged`.
 */
export async function purgeExpiredFiles(ctx: Context, now = new Date()): Promise<number> {
  const db = ctx.database.knex;
  let purged = 0;
  for (const feed of await listFeeds(db)) {
    const cutoff = toDbTime(new Date(now.getTime() - feed.settings.retentionDays * 86_400_000));
    const files = (await db('run_files as f')
      .join('runs as r', 'r.id', 'f.run_id')
      .where({ 'r.feed_id': feed.id, 'f.purged': false })
      .whereIn('r.state', ['applied', 'failed', 'cancelled', 'superseded'])
      .where('r.finished_at', '<', cutoff)
      .select('f.id', 'f.storage_key')) as { id: number; storage_key: string }[];
    for (const file of files) {
      await ctx.archive.remove(file.storage_key);
      await db('run_files').where({ id: file.id }).update({ purged: true });
      purged++;
    }
  }
  if (purged) log.info('removed archived files past retention', { files: purged });
  return purged;
}
