import { randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Context } from '../context.js';
import { CONTROL_FILE_NAME } from '../core/control/controlFile.js';
import { fileNameProblem, isTemporaryName } from '../core/fileNames.js';
import { listFeeds, type Feed } from '../feeds/feeds.service.js';
import { log } from '../log.js';
import { adoptArchivedFiles, completeIfReady, openReceivingRun, recordReceivedFile } from '../pipeline/receiving.js';
import { faultPoint } from '../pipeline/faults.js';
import { addRunEvent, getRun } from '../runs/runs.service.js';

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
  /** Files left in the inbox for their names, each logged once. */
  private readonly misnamed = new Set<string>();
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
    // One feed's failed scan does not hold up the others' until the next rescan.
    for (const feed of await listFeeds(this.ctx.database.knex)) {
      await this.scan(feed).catch((error: unknown) => log.warn('inbox scan failed', { feed: feed.slug, error: String(error) }));
    }
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

  /**
   * Every file that arrives belongs to the feed's open set, named by the control file or not
   * (an extra file then fails the set in validation, archived, instead of lying in the inbox
   * forever) — as over HTTP and S3. The control file is claimed last, and only while nothing
   * else in the folder is still being written, so a set never completes beside a file in flight.
   */
  private async scanOnce(feed: Feed): Promise<void> {
    const folder = this.feedFolder(feed);
    await mkdir(folder, { recursive: true });
    await this.adoptClaimed(feed);
    const { settled, arriving } = await this.settledFiles(folder);
    const db = this.ctx.database.knex;
    const receiving = await db('runs').where({ feed_id: feed.id, channel: 'folder', state: 'receiving' }).orderBy('id').first('id');
    if (receiving) await adoptArchivedFiles(this.ctx, feed, await getRun(db, Number(receiving.id)));

    for (const name of [...settled].sort()) if (name !== CONTROL_FILE_NAME) await this.claim(feed, name);
    if (settled.has(CONTROL_FILE_NAME) && arriving === 0) {
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

  /**
   * A claimed file that could not be received goes back to the inbox, so the next scan (of any
   * server) tries again, instead of waiting in its claim until the claim's lease runs out. A newer
   * file of that name written meanwhile is not overwritten: the claim then stays and is adopted
   * later. (Not a hard link back: another server claiming it would refuse a file with two names.)
   */
  private async unclaim(feed: Feed, holder: string, name: string) {
    const target = join(this.feedFolder(feed), name);
    try {
      if (await lstat(target).then(() => true, () => false)) throw new Error(`a newer ${name} is in the inbox folder`);
      await rename(join(holder, name), target);
      await rm(holder, { recursive: true, force: true });
      log.warn('a claimed file could not be received; it is back in the inbox folder', { feed: feed.slug, file: name });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') log.warn('a claimed file could not be received nor put back; it is adopted once its claim is old', { feed: feed.slug, file: name, error: String(error) });
    }
  }

  /**
   * Reads the claimed file only if it is a regular file of the inbox's own file system: a link
   * (to /etc/shadow, say) swapped in before the rename, a FIFO or a device is refused. The file
   * is opened without following links and checked on the descriptor; the archive then takes
   * exactly that inode (see `receiveOpened`), so nothing swapped in later gets in either.
   */
  private async attach(feed: Feed, holder: string, name: string, adopting = false) {
    // An adopted claim may carry a second name of our own: the archive's, if its server stopped
    // after archiving it.
    const opened = await openRegularFile(join(holder, name), (await lstat(this.feedFolder(feed))).dev, { allowLinks: adopting });
    if (typeof opened === 'string') {
      await rm(holder, { recursive: true, force: true });
      if (opened === 'gone') return;
      log.warn('refused a file in the inbox folder', { feed: feed.slug, file: name, reason: opened });
      // Said on the feed's open set (opened for it if need be): its page shows why a file never
      // came, and a set left incomplete fails visibly.
      const run = await openReceivingRun(this.ctx, feed, 'folder');
      await addRunEvent(this.ctx.database.knex, run.id, `refused ${name} from the inbox folder: ${opened}; only regular files are read`);
      return;
    }
    const handle = opened;
    let runId;
    try {
      ({ runId } = await recordReceivedFile(this.ctx, feed, 'folder', name, { path: join(holder, name), handle }));
    } catch (error) {
      await handle.close();
      if (!adopting) await this.unclaim(feed, holder, name);
      throw error;
    }
    await handle.close();
    await rm(holder, { recursive: true, force: true });
    const result = await completeIfReady(this.ctx, runId);
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
        await this.attach(feed, holder, name, true);
      }
    }
  }

  /**
   * Names in the folder whose size and mtime have been stable for the settle time, and how many
   * others are still changing. Links are looked at, not followed: claiming refuses them.
   */
  private async settledFiles(folder: string): Promise<{ settled: Set<string>; arriving: number }> {
    const settled = new Set<string>();
    let arriving = 0;
    const now = this.now();
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      if (!(entry.isFile() || entry.isSymbolicLink()) || isTemporaryName(entry.name)) continue;
      const path = join(folder, entry.name);
      const problem = fileNameProblem(entry.name);
      if (problem) {
        if (!this.misnamed.has(path)) log.warn('a file in the inbox folder has a name no control file can list; it is left there', { folder, file: entry.name, problem });
        this.misnamed.add(path);
        continue;
      }
      let info;
      try {
        info = await lstat(path);
      } catch {
        continue; // renamed or removed meanwhile
      }
      const seen = this.observed.get(path);
      if (!seen || seen.size !== info.size || seen.mtimeMs !== info.mtimeMs) {
        this.observed.set(path, { size: info.size, mtimeMs: info.mtimeMs, since: now });
        if (this.settleMs > 0) {
          arriving++;
          continue;
        }
      }
      if (now - (this.observed.get(path)?.since ?? now) >= this.settleMs) settled.add(entry.name);
      else arriving++;
    }
    return { settled, arriving };
  }
}

/** The file at `path` opened for reading if it is a regular file on device `dev`; else why not. */
async function openRegularFile(path: string, dev: number, { allowLinks }: { allowLinks: boolean }): Promise<FileHandle | string> {
  let handle: FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer.
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? 'gone' : code === 'ELOOP' ? 'it is a symbolic link' : `it cannot be opened (${code})`;
  }
  const info = await handle.stat();
  // A second name means the bytes also live elsewhere — a hard link to a file the source
  // system could not read itself, say — so it is not the source's own upload.
  const refusal = !info.isFile()
    ? 'it is not a regular file'
    : info.dev !== dev
      ? "it is not on the inbox's file system"
      : info.nlink > 1 && !allowLinks
        ? 'it is a hard link to a file elsewhere'
        : null;
  if (refusal === null) return handle;
  await handle.close();
  return refusal;
}
