import { randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, open, readdir, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import ssh2, { type FileEntry, type SFTPWrapper } from 'ssh2';
import type { Context } from '../context.js';
import type { Feed } from '../feeds/feeds.service.js';
import { log } from '../log.js';
import { receiveFile } from '../pipeline/receiving.js';
import { trackIncoming } from '../pipeline/receivingMonitor.js';
import { addRunEvent } from '../runs/runs.service.js';
import { sftpAccountExists, type SftpAccount } from './accounts.service.js';
import { joinsSet, resolveSftpPath, uploadNameProblem } from './paths.js';
import { attrsOf, denied, longname, noSuchFile, Refusal, ROOT_ATTRS } from './replies.js';

const { STATUS_CODE, OPEN_MODE } = ssh2.utils.sftp;

/** Bytes of WRITE requests a connection may have waiting for the disk; clients keep ~2 MB in flight. */
const MAX_WRITES_IN_FLIGHT = 16 * 1024 * 1024;
const MAX_OPEN_UPLOADS = 16;

export interface SessionScope {
  ctx: Context;
  feed: Feed;
  account: SftpAccount;
  address: string;
  /** Where uploads are written until closed complete: outside every feed folder. */
  uploadsDir: string;
  maxUploadBytes: number;
  /** Ends the connection (a client flooding writes). */
  abort(reason: string): void;
}

interface Upload {
  kind: 'upload';
  name: string;
  path: string;
  file: FileHandle;
  writes: Set<Promise<void>>;
  failed: string | null;
  /** Its bytes so far, for the progress of the set it joins (null: it waits for a rename). */
  incoming: ReturnType<typeof trackIncoming> | null;
}
type Handle = Upload | { kind: 'listing'; done: boolean };

/**
 * One SFTP session: its `/` is its feed's inbox folder, flat. It uploads, lists, stats, renames
 * and removes files there, and nothing else: no downloads, folders or links, and links placed
 * in the folder are never followed. An upload is written outside the inbox and, once the
 * client closes it, handed to the feed's receiving set on the `sftp` channel — through the
 * same `receiveFile` the folder channel uses — or, under a temporary name, moved into the
 * folder to wait for its rename. A connection that breaks mid-upload leaves nothing behind.
 */
export function serveSftp(sftp: SFTPWrapper, scope: SessionScope): () => Promise<void> {
  const { ctx, feed, account } = scope;
  const folder = join(ctx.config.inboxDir, feed.slug);
  const handles = new Map<number, Handle>();
  let nextHandle = 1;
  let inFlight = 0;

  const handleOf = (buffer: Buffer) => (buffer.length === 4 ? handles.get(buffer.readUInt32BE(0)) : undefined);
  const newHandle = (value: Handle) => {
    const id = nextHandle++;
    handles.set(id, value);
    const buffer = Buffer.alloc(4);
    buffer.writeUInt32BE(id);
    return buffer;
  };
  const fileName = (path: string) => {
    const resolved = resolveSftpPath(path);
    if (resolved.kind === 'refused') throw denied(resolved.why);
    if (resolved.kind === 'root') throw new Refusal(STATUS_CODE.FAILURE, '/ is the inbox folder, not a file');
    return resolved.name;
  };
  /** A regular file of the inbox folder; links and anything else are not this session's files. */
  const inboxFile = async (name: string) => {
    const info = await lstat(join(folder, name)).catch(() => null);
    if (!info) throw noSuchFile();
    if (info.isSymbolicLink()) throw denied('symbolic links are not followed');
    if (!info.isFile()) throw noSuchFile();
    return info;
  };

  /** Requests still running: the server's stop waits for them (a file being handed to its set). */
  const running = new Set<Promise<unknown>>();
  /** Runs one request; a Refusal or any failure becomes its status, never a dropped request. */
  const answer = (reqId: number, work: () => Promise<void>) => {
    const request = work().catch((error: unknown) => {
      if (error instanceof Refusal) return sftp.status(reqId, error.status, error.message);
      log.warn('sftp request failed', { feed: feed.slug, account: account.username, error: String(error) });
      sftp.status(reqId, STATUS_CODE.FAILURE, error instanceof Error && 'code' in error && error.code === 'usage' ? error.message : 'the server could not do this; see its log');
    });
    running.add(request);
    void request.finally(() => running.delete(request));
  };
  const ok = (reqId: number) => sftp.status(reqId, STATUS_CODE.OK);

  /** Adds a complete file to the feed's set, as the folder channel would, naming the account. */
  const deliver = async (name: string, path: string) => {
    const file = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(() => {
      throw noSuchFile();
    });
    let result;
    try {
      const info = await file.stat();
      if (!info.isFile()) throw noSuchFile();
      // As the folder channel: a second name means the bytes are also someone else's file.
      if (info.nlink > 1) throw denied('the file is a hard link to a file elsewhere');
      result = await receiveFile(ctx, feed, 'sftp', name, { path, handle: file });
    } finally {
      await file.close();
    }
    await rm(path, { force: true });
    await addRunEvent(ctx.database.knex, result.run.id, `received ${name} over SFTP (account ${account.username}, from ${scope.address})`, { actor: `sftp:${account.username}` });
    log.info('received a file over SFTP', { feed: feed.slug, account: account.username, run: result.run.id, file: name, missing: result.missing });
  };

  sftp.on('OPEN', (reqId, path, flags) =>
    answer(reqId, async () => {
      const name = fileName(path);
      if (!(flags & OPEN_MODE.WRITE)) throw denied('this endpoint takes uploads only: files cannot be read back');
      if (flags & OPEN_MODE.APPEND) throw new Refusal(STATUS_CODE.OP_UNSUPPORTED, 'appending to (resuming) an upload is not supported: upload the whole file');
      const problem = uploadNameProblem(name);
      if (problem) throw denied(problem);
      if ([...handles.values()].filter((h) => h.kind === 'upload').length >= MAX_OPEN_UPLOADS) throw new Refusal(STATUS_CODE.FAILURE, `at most ${MAX_OPEN_UPLOADS} uploads at once per connection`);
      if (!(await sftpAccountExists(ctx.database.knex, account.id))) {
        scope.abort('the account was removed');
        throw denied('this SFTP account was removed');
      }
      const path_ = join(scope.uploadsDir, `${feed.slug}-${randomUUID()}.part`);
      const file = await open(path_, 'wx', 0o600);
      const incoming = joinsSet(name) ? trackIncoming(ctx, { feedId: feed.id, channel: 'sftp' }, name, null) : null;
      sftp.handle(reqId, newHandle({ kind: 'upload', name, path: path_, file, writes: new Set(), failed: null, incoming }));
    }),
  );

  sftp.on('WRITE', (reqId, buffer, offset, data) => {
    const upload = handleOf(buffer);
    if (upload?.kind !== 'upload') return sftp.status(reqId, STATUS_CODE.FAILURE, 'not an open upload');
    if (upload.failed) return sftp.status(reqId, STATUS_CODE.FAILURE, upload.failed);
    if (offset + data.length > scope.maxUploadBytes) {
      upload.failed = `the file is larger than the upload limit of ${Math.floor(scope.maxUploadBytes / 1024 / 1024)} MB`;
      return sftp.status(reqId, STATUS_CODE.FAILURE, upload.failed);
    }
    // The client waits for each write's answer, so answering only once the bytes are on disk
    // keeps what a connection holds in memory to its window of requests.
    inFlight += data.length;
    if (inFlight > MAX_WRITES_IN_FLIGHT) return scope.abort('too many writes waiting for the disk');
    const write: Promise<void> = upload.file
      .write(data, 0, data.length, offset)
      .then(
        () => {
          upload.incoming?.reached(offset + data.length);
          ok(reqId);
        },
        (error: unknown) => {
          upload.failed = `the upload could not be written (${(error as NodeJS.ErrnoException).code ?? error})`;
          sftp.status(reqId, STATUS_CODE.FAILURE, upload.failed);
        },
      )
      .finally(() => {
        inFlight -= data.length;
        upload.writes.delete(write);
      });
    upload.writes.add(write);
  });

  sftp.on('CLOSE', (reqId, buffer) =>
    answer(reqId, async () => {
      const handle = handleOf(buffer);
      if (!handle) throw new Refusal(STATUS_CODE.FAILURE, 'not an open handle');
      handles.delete(buffer.readUInt32BE(0));
      if (handle.kind === 'listing') return ok(reqId);
      await Promise.all(handle.writes);
      await handle.file.close();
      try {
        if (handle.failed) throw new Refusal(STATUS_CODE.FAILURE, handle.failed);
        if (joinsSet(handle.name)) await deliver(handle.name, handle.path);
        else await rename(handle.path, join(folder, handle.name));
      } finally {
        handle.incoming?.end();
        await rm(handle.path, { force: true });
      }
      ok(reqId);
    }),
  );

  sftp.on('FSTAT', (reqId, buffer) =>
    answer(reqId, async () => {
      const handle = handleOf(buffer);
      if (!handle) throw new Refusal(STATUS_CODE.FAILURE, 'not an open handle');
      sftp.attrs(reqId, handle.kind === 'upload' ? attrsOf(await handle.file.stat()) : ROOT_ATTRS);
    }),
  );
  // Times and modes are not kept (the archive records the bytes); clients that set them after
  // an upload (WinSCP, `put -p`) must not see that as a failed upload.
  sftp.on('FSETSTAT', (reqId, buffer) => (handleOf(buffer) ? ok(reqId) : sftp.status(reqId, STATUS_CODE.FAILURE, 'not an open handle')));
  sftp.on('SETSTAT', (reqId, path) =>
    answer(reqId, async () => {
      const resolved = resolveSftpPath(path);
      if (resolved.kind === 'refused') throw denied(resolved.why);
      ok(reqId);
    }),
  );

  sftp.on('OPENDIR', (reqId, path) =>
    answer(reqId, async () => {
      const resolved = resolveSftpPath(path);
      if (resolved.kind === 'refused') throw denied(resolved.why);
      if (resolved.kind !== 'root') throw noSuchFile();
      sftp.handle(reqId, newHandle({ kind: 'listing', done: false }));
    }),
  );
  sftp.on('READDIR', (reqId, buffer) =>
    answer(reqId, async () => {
      const listing = handleOf(buffer);
      if (listing?.kind !== 'listing') throw new Refusal(STATUS_CODE.FAILURE, 'not an open folder');
      if (listing.done) return void sftp.status(reqId, STATUS_CODE.EOF);
      listing.done = true;
      const entries: FileEntry[] = [];
      for (const entry of await readdir(folder, { withFileTypes: true })) {
        if (!entry.isFile()) continue;
        const info = await lstat(join(folder, entry.name)).catch(() => null);
        if (info?.isFile()) entries.push({ filename: entry.name, longname: longname(entry.name, info), attrs: attrsOf(info) });
      }
      if (entries.length === 0) return void sftp.status(reqId, STATUS_CODE.EOF);
      sftp.name(reqId, entries);
    }),
  );

  const stat = (reqId: number, path: string) =>
    answer(reqId, async () => {
      const resolved = resolveSftpPath(path);
      if (resolved.kind === 'refused') throw denied(resolved.why);
      sftp.attrs(reqId, resolved.kind === 'root' ? ROOT_ATTRS : attrsOf(await inboxFile(resolved.name)));
    });
  sftp.on('STAT', stat);
  sftp.on('LSTAT', stat);

  sftp.on('REALPATH', (reqId, path) =>
    answer(reqId, async () => {
      const resolved = resolveSftpPath(path);
      if (resolved.kind === 'refused') throw denied(resolved.why);
      const filename = resolved.kind === 'root' ? '/' : `/${resolved.name}`;
      sftp.name(reqId, [{ filename, longname: filename, attrs: ROOT_ATTRS }]);
    }),
  );

  sftp.on('REMOVE', (reqId, path) =>
    answer(reqId, async () => {
      const name = fileName(path);
      await inboxFile(name);
      await rm(join(folder, name));
      ok(reqId);
    }),
  );

  sftp.on('RENAME', (reqId, from, to) =>
    answer(reqId, async () => {
      const source = fileName(from);
      const target = fileName(to);
      const problem = uploadNameProblem(target);
      if (problem) throw denied(problem);
      await inboxFile(source);
      if (await lstat(join(folder, target)).catch(() => null)) throw new Refusal(STATUS_CODE.FAILURE, `${target} exists already`);
      // Getting its real name completes an upload: it joins the set, as if uploaded under it.
      if (joinsSet(target)) {
        const holder = join(scope.uploadsDir, `${feed.slug}-${randomUUID()}.part`);
        await rename(join(folder, source), holder);
        try {
          await deliver(target, holder);
        } catch (error) {
          await rename(holder, join(folder, source)).catch(() => undefined);
          throw error;
        }
      } else {
        await rename(join(folder, source), join(folder, target));
      }
      ok(reqId);
    }),
  );

  const refuse = (what: string) => (reqId: number) => sftp.status(reqId, STATUS_CODE.PERMISSION_DENIED, what);
  sftp.on('READ', refuse('this endpoint takes uploads only: files cannot be read back'));
  sftp.on('MKDIR', refuse('the inbox has no folders'));
  sftp.on('RMDIR', refuse('the inbox has no folders'));
  sftp.on('SYMLINK', refuse('links cannot be made in the inbox'));
  sftp.on('READLINK', refuse('links are not followed'));

  /** The session or its connection ended: uploads never closed are dropped, so nothing half-written remains. */
  const dropUnclosed = async () => {
    await Promise.allSettled(running);
    const unclosed = [...handles.values()].filter((h): h is Upload => h.kind === 'upload');
    handles.clear();
    for (const upload of unclosed) {
      upload.incoming?.end();
      await Promise.allSettled(upload.writes);
      await upload.file.close().catch(() => undefined);
      await rm(upload.path, { force: true });
    }
  };
  // The client is done (its end of the channel closed): close ours, or it waits for us forever.
  sftp.on('end', () => {
    void dropUnclosed();
    sftp.end();
  });
  return dropUnclosed;
}
