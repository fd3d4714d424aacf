import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import type { Context } from '../context.js';
import { CONTROL_FILE_NAME } from '../core/control/controlFile.js';
import { isTemporaryName, namedFiles } from '../core/uploadSet.js';
import { listFeeds, type Feed } from '../feeds/feeds.service.js';
import { log } from '../log.js';
import { adoptArchivedFiles, completeIfReady, receiveFile } from '../pipeline/receiving.js';
import { faultPoint } from '../pipeline/faults.js';
import { getRun, runFiles } from '../runs/runs.service.js';

/** Where claimed files wait, inside the inbox (same file system: the claim is one rename). */
const CLAIMED = '.claimed';

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
    await this.adoptClaimed(feed);
    const settled = await this.settledFiles(folder);
    const db = this.ctx.database.knex;
    const receiving = await db('runs').where({ feed_id: feed.id, channel: 'folder', state: 'receiving' }).orderBy('id').first('id');
    if (!receiving && !settled.has(CONTROL_FILE_NAME)) return;

    if (receiving) await adoptArchivedFiles(this.ctx, feed, await getRun(db, Number(receiving.id)));
    const files = receiving ? await runFiles(db, Number(receiving.id)) : [];
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
    if (receiving) await completeIfReady(this.ctx, Number(receiving.id));
  }

  private claimedRoot(feed: Pick<Feed, 'slug'>): string {
    return join(this.root, CLAIMED, feed.slug);
  }

  /**
   * Takes a file out of the inbox with a rename to a folder of this claim's own, and only then
   * adds it to the feed's open set. Of several servers watching one inbox exactly one wins the
   * rename; the others see the file gone and open no run for it.
   */
  private async claim(feed: Feed, name: string) {
    const source = join(this.feedFolder(feed), name);
    this.observed.delete(source);
    const holder = join(this.claimedRoot(feed), `${Date.now()}-${randomUUID()}`);
    await mkdir(holder, { recursive: true });
    try {
      await rename(source, join(holder, name));
    } catch (error) {
      await rm(holder, { recursive: true, force: true });
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // another server claimed it
      throw error;
    }
    await faultPoint('folder:after-rename');
    await this.attach(feed, holder, name);
  }

  private async attach(feed: Feed, holder: string, name: string) {
    const result = await receiveFile(this.ctx, feed, 'folder', name, { path: join(holder, name), keepSource: false });
    await rm(holder, { recursive: true, force: true });
    log.info('claimed a file from the inbox folder', { feed: feed.slug, run: result.run.id, file: name, missing: result.missing });
    await faultPoint('folder:after-claim');
  }

  /**
   * Files a server claimed but did not add to a set — it stopped in between — are added now,
   * once the claim is older than a lease: its server is presumed dead. Taking over a claim is a
   * rename too, so only one server does.
   */
  private async adoptClaimed(feed: Feed) {
    const root = this.claimedRoot(feed);
    for (const claim of await readdir(root).catch(() => [] as string[])) {
      if (Date.now() - Number(claim.split('-')[0]) < this.ctx.leaseSeconds * 1000) continue;
      const holder = join(root, `${Date.now()}-${randomUUID()}`);
      try {
        await rename(join(root, claim), holder);
      } catch {
        continue; // another server took it over
      }
      const names = await readdir(holder);
      if (names.length === 0) await rm(holder, { recursive: true, force: true });
      for (const name of names.sort((a, b) => Number(a === CONTROL_FILE_NAME) - Number(b === CONTROL_FILE_NAME))) {
        log.warn('adopting a file claimed by a server that stopped', { feed: feed.slug, file: name });
        await this.attach(feed, holder, name);
      }
    }
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
