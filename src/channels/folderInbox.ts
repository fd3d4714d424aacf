import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import type { Context } from '../context.js';
import { CONTROL_FILE_NAME } from '../core/control/controlFile.js';
import { isTemporaryName, namedFiles } from '../core/uploadSet.js';
import { listFeeds, type Feed } from '../feeds/feeds.service.js';
import { log } from '../log.js';
import { adoptArchivedFiles, completeIfReady, openReceivingRun, receiveFile } from '../pipeline/receiving.js';
import { faultPoint } from '../pipeline/faults.js';
import { runFiles } from '../runs/runs.service.js';

interface Observation {
  size: number;
  mtimeMs: number;
  since: number;
}

/**
 * The folder channel: `<inbox>/<feed>/`. A file counts as arrived once its size and mtime have
 * not changed for `settleMs`; temporary names are never looked at. When the control file has
 * arrived, it and the files it names are claimed — moved into the run's archive — so a restart
 * never sees them again. A set still missing files stays a visible `receiving` run.
 */
export class FolderInbox {
  private readonly observed = new Map<string, Observation>();
  private readonly scanning = new Map<string, Promise<void>>();

  constructor(
    private readonly ctx: Context,
    readonly root: string,
    private readonly settleMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  feedFolder(feed: Pick<Feed, 'slug'>): string {
    return join(this.root, feed.slug);
  }

  async scanAll(): Promise<void> {
    if (this.closed) return;
    for (const feed of await listFeeds(this.ctx.database.knex)) await this.scan(feed);
  }

  private closed = false;

  /** No new scans; resolves when the running ones have finished. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled(this.scanning.values());
  }

  /** Scans one feed's folder; concurrent calls for one feed share a single scan. */
  scan(feed: Feed): Promise<void> {
    if (this.closed) return Promise.resolve();
    const running = this.scanning.get(feed.slug);
    if (running) return running;
    const scan = this.scanOnce(feed).finally(() => this.scanning.delete(feed.slug));
    this.scanning.set(feed.slug, scan);
    return scan;
  }

  private async scanOnce(feed: Feed): Promise<void> {
    const folder = this.feedFolder(feed);
    await mkdir(folder, { recursive: true });
    const settled = await this.settledFiles(folder);
    const db = this.ctx.database.knex;
    const receiving = await db('runs').where({ feed_id: feed.id, channel: 'folder', state: 'receiving' }).first('id');
    if (!receiving && !settled.has(CONTROL_FILE_NAME)) return;

    const run = await openReceivingRun(this.ctx, feed, 'folder');
    await adoptArchivedFiles(this.ctx, feed, run);
    const files = await runFiles(db, run.id);
    const have = new Set(files.map((f) => f.name));
    let wanted: string[] | null = null;
    const control = files.find((f) => f.name === CONTROL_FILE_NAME);
    if (control) wanted = namedFiles((await buffer(this.ctx.archive.read(control.storageKey))).toString('utf8'));
    else if (settled.has(CONTROL_FILE_NAME)) wanted = namedFiles(await readFile(join(folder, CONTROL_FILE_NAME), 'utf8').catch(() => ''));

    // Data files first, the control file last: the set completes only when all are in.
    for (const name of wanted ?? []) {
      if (name === CONTROL_FILE_NAME || have.has(name) || !settled.has(name)) continue;
      await this.claim(feed, name);
    }
    if (!have.has(CONTROL_FILE_NAME) && settled.has(CONTROL_FILE_NAME)) {
      await this.claim(feed, CONTROL_FILE_NAME);
      return;
    }
    await completeIfReady(this.ctx, run.id);
  }

  private async claim(feed: Feed, name: string) {
    const path = join(this.feedFolder(feed), name);
    this.observed.delete(path);
    let result;
    try {
      result = await receiveFile(this.ctx, feed, 'folder', name, { path, keepSource: false });
    } catch (error) {
      // Another process claimed it first (several servers may watch one inbox).
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    log.info('claimed a file from the inbox folder', { feed: feed.slug, run: result.run.id, file: name, missing: result.missing });
    await faultPoint('folder:after-claim');
  }

  /** Names in the folder whose size and mtime have been stable for the settle time. */
  private async settledFiles(folder: string): Promise<Set<string>> {
    const settled = new Set<string>();
    const now = this.now();
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      if (!entry.isFile() || isTemporaryName(entry.name)) continue;
      const path = join(folder, entry.name);
      let info;
      try {
        info = await stat(path);
      } catch {
        continue; // renamed or removed meanwhile
      }
      const seen = this.observed.get(path);
      if (!seen || seen.size !== info.size || seen.mtimeMs !== info.mtimeMs) {
        this.observed.set(path, { size: info.size, mtimeMs: info.mtimeMs, since: now });
        if (this.settleMs > 0) continue;
      }
      if (now - (this.observed.get(path)?.since ?? now) >= this.settleMs) settled.add(entry.name);
    }
    return settled;
  }
}
