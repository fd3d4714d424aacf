import { mkdir } from 'node:fs/promises';
import type { Server } from 'node:http';
import { join } from 'node:path';
import Bree from 'bree';
import { watch, type FSWatcher } from 'chokidar';
import { addAdmin, countAdmins } from '../admins/admins.service.js';
import { FolderInbox } from '../channels/folderInbox.js';
import type { Config } from '../config.js';
import { redact } from '../config.js';
import { openContext, type Context } from '../context.js';
import { isTemporaryName } from '../core/uploadSet.js';
import { addFeed, findFeed, getFeed, listFeeds } from '../feeds/feeds.service.js';
import type { JobSpec } from '../jobs/runJob.js';
import { jobSchedule } from '../jobs/schedule.js';
import { log } from '../log.js';
import { packageRoot } from '../paths.js';
import { startSftp } from '../sftp/startSftp.js';
import type { SftpServer } from '../sftp/sftpServer.js';
import { onWake, wakeFromMessage, type WakeReason } from '../pipeline/wakeUp.js';
import { createApp } from './app.js';
import { BackgroundWork } from './backgroundWork.js';

export interface RunningServer {
  ctx: Context;
  url: string;
  inbox: FolderInbox;
  /** The built-in SFTP endpoint, when SFTP_PORT is set. */
  sftp: SftpServer | null;
  /** The account created on first start of the embedded default; its password is shown once. */
  firstAdmin?: { email: string; password: string };
  /** Stops intake, lets running work end, closes the database; at most `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * `sluice serve`: the HTTP API, the folder watcher and the scheduled jobs in one process.
 * Several such processes may share one MySQL database and one inbox.
 */
export async function serve(config: Config, options: { jobs?: boolean; rescanMs?: number } = {}): Promise<RunningServer> {
  const ctx = await openContext(config);
  const db = ctx.database.knex;
  // The embedded default is ready to use: a demo feed and a first admin account.
  let firstAdmin: RunningServer['firstAdmin'];
  if (config.databaseUrl.startsWith('sqlite:')) {
    if (!(await findFeed(db, 'demo'))) await addFeed(db, 'demo', { name: 'Demo feed' });
    if ((await countAdmins(db)) === 0) {
      const { admin, password } = await addAdmin(db, { email: 'admin@localhost', role: 'admin', actor: 'sluice serve' });
      firstAdmin = { email: admin.email, password };
    }
  }
  for (const feed of await listFeeds(db)) await mkdir(join(config.inboxDir, feed.slug), { recursive: true });

  const background = new BackgroundWork();
  const app = createApp(ctx, { maxUploadBytes: config.maxUploadBytes }, background);
  await ctx.archive.sweep();
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(config.port, () => resolve(s));
    // Node would answer `100 Continue` at once; the routes answer it once they accept the request.
    s.on('checkContinue', (req, res) => s.emit('request', req, res));
  });
  const address = server.address();
  const url = `http://localhost:${typeof address === 'object' && address ? address.port : config.port}`;
  const sftp = await startSftp(ctx);

  // The folder channel: the watcher reacts quickly, the rescan catches what it missed and
  // whatever was already there at start-up; both settle files the same way.
  const inbox = new FolderInbox(ctx, config.inboxDir, config.settleMs);
  const pending = new Map<string, NodeJS.Timeout>();
  const scanSoon = (slug: string) => {
    if (pending.has(slug)) return;
    pending.set(
      slug,
      setTimeout(() => {
        pending.delete(slug);
        getFeed(db, slug)
          .then((feed) => inbox.scan(feed))
          .catch((error: unknown) => log.warn('inbox scan failed', { feed: slug, error: String(error) }));
      }, config.settleMs + 100),
    );
  };
  const watcher: FSWatcher = watch(config.inboxDir, {
    depth: 1,
    ignoreInitial: true,
    ignored: (path) => isTemporaryName(path.split('/').pop() ?? ''),
  });
  watcher.on('all', (_event, path) => {
    const slug = path.slice(config.inboxDir.length + 1).split('/')[0];
    if (slug && path.split('/').length - config.inboxDir.split('/').length === 2) scanSoon(slug);
  });
  watcher.on('error', (error) => log.warn('folder watcher error', { error: String(error) }));
  let rescanning: Promise<void> = Promise.resolve();
  const rescan = () => {
    rescanning = inbox.scanAll().catch((error: unknown) => log.warn('inbox rescan failed', { error: String(error) }));
  };
  const rescanTimer = setInterval(rescan, options.rescanMs ?? Math.max(5_000, config.settleMs));
  rescan();

  let bree: Bree | null = null;
  let stopped = false;
  let stopWaking = () => {};
  if (options.jobs ?? config.runJobs) {
    const jobs = (Object.values(jobSchedule) as JobSpec[]).filter((job) => job.longLived);
    const started = new Bree({
      root: join(packageRoot, 'dist', 'jobs'),
      defaultExtension: 'js',
      logger: false,
      doRootCheck: false,
      jobs: jobs.map((job) => ({ name: job.name, timeout: 0, worker: { workerData: { config } } })),
      errorHandler: (error: unknown, meta: unknown) => log.error('job error', { error: String(error), meta: String(JSON.stringify(meta)) }),
      // A run queued or mail enqueued in another job's thread wakes the executor too.
      workerMessageHandler: ({ message }: { message: unknown }) => {
        const reason = wakeFromMessage(message);
        if (reason) wakeExecutor(reason);
      },
    });
    const executor = jobSchedule.runExecutor.name;
    const wakeExecutor = (reason: WakeReason) => started.workers.get(executor)?.postMessage({ sluiceWake: reason });
    stopWaking = onWake(wakeExecutor);
    // The long-lived jobs live as long as the server: one that ends early is started again.
    started.on('worker deleted', (name: string) => {
      if (!stopped) setTimeout(() => !stopped && void started.run(name), 1_000).unref();
    });
    bree = started;
    await bree.start();
    background.executorRunning = true;
  }

  log.info('sluice is serving', { url, database: redact(config.databaseUrl), inbox: config.inboxDir });
  let stopping: Promise<void> | null = null;
  return {
    ctx,
    url,
    inbox,
    sftp,
    firstAdmin,
    stop(graceMs = 30_000) {
      stopping ??= (async () => {
        const deadline = setTimeout(() => {
          log.error('shutdown took too long; exiting');
          process.exit(1);
        }, graceMs);
        deadline.unref();
        // 1. Stop intake: no new connections, no new scans.
        clearInterval(rescanTimer);
        for (const timer of pending.values()) clearTimeout(timer);
        await watcher.close();
        await sftp?.stop();
        await inbox.close();
        await rescanning;
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        // 2. Let running work end: jobs finish their step (a run left mid-way is resumed
        //    from its lease by the next process), uploads in flight complete.
        stopped = true;
        stopWaking();
        if (bree) await bree.stop();
        await closed;
        await background.drain();
        // 3. Close the database.
        await ctx.database.close();
        clearTimeout(deadline);
      })();
      return stopping;
    },
  };
}
