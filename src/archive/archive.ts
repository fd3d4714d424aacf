import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, link, lstat, mkdir, open, readdir, rename, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface StoredFile {
  size: number;
  sha256: string;
}

/**
 * A file that has fully arrived but belongs to no run yet: each upload has its own, so two
 * uploads of one name never share bytes, and the run is chosen only once the file is complete.
 */
export interface IncomingFile {
  stored: StoredFile;
  /** Moves the bytes to `key` (replacing what is there). */
  commit(key: string): Promise<void>;
  /** Removes the bytes when no run takes them; a no-op after `commit`. */
  discard(): Promise<void>;
}

/**
 * Where a run's raw files live. Keys are `<feed>/<run id>/<file name>`. A local folder now; an
 * S3 bucket can implement the same four calls.
 */
export interface Archive {
  /** Streams bytes in, returning their size and SHA-256. */
  write(key: string, source: AsyncIterable<Uint8Array> | Readable): Promise<StoredFile>;
  /** Streams bytes into a temporary file of their own, to be committed to a key later. */
  receive(source: AsyncIterable<Uint8Array> | Readable): Promise<IncomingFile>;
  /**
   * Like `receive` for a local file already opened and checked (the folder inbox): the bytes are
   * exactly the opened file's, taken without a copy where the archive can link to it.
   */
  receiveOpened(path: string, handle: FileHandle): Promise<IncomingFile>;
  /** Removes temporary files that processes which stopped (even by SIGKILL) left behind. */
  sweep(): Promise<void>;
  /** Takes over a local file: a rename where possible, else copy, fsync and unlink. */
  claim(key: string, path: string, options: { keepSource: boolean }): Promise<StoredFile>;
  read(key: string): Readable;
  remove(key: string): Promise<void>;
  /** Names of the complete files stored under `<feed>/<run id>/`. */
  list(prefix: string): Promise<string[]>;
}

export const archiveKey = (feed: string, runId: number, name: string) => `${feed}/${runId}/${name}`;

/**
 * This process's folder for files still arriving: `<host>-<pid>-<uuid>`, so that at start a
 * process can tell the folders of dead processes on its own host (pid gone, or its own pid
 * reused after a restart in a container) from those of live ones, and remove them.
 */
const processTag = `${hostname()}-${process.pid}-${randomUUID()}`;
const INCOMING = '.incoming';

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class LocalArchive implements Archive {
  constructor(private readonly root: string) {}

  private path(key: string): string {
    if (key.split('/').some((part) => part === '..' || part === '')) throw new Error(`unsafe archive key ${key}`);
    return join(this.root, key);
  }

  private async temporaryPath(): Promise<string> {
    const folder = join(this.root, INCOMING, processTag);
    await mkdir(folder, { recursive: true });
    return join(folder, `${randomUUID()}.partial`);
  }

  async receive(source: AsyncIterable<Uint8Array> | Readable): Promise<IncomingFile> {
    const temporary = await this.temporaryPath();
    return this.incoming(temporary, await this.writeTo(temporary, source));
  }

  /**
   * A hard link to the opened file, checked to be the very inode that was opened (link() does
   * not follow a symbolic link, and the check catches a swap between open and link); the file
   * where it lies stays until the caller removes it, so a crash loses nothing. Where no link
   * can be made (another file system) or the inode differs, the opened file is copied.
   */
  async receiveOpened(path: string, handle: FileHandle): Promise<IncomingFile> {
    const copy = () => this.receive(handle.createReadStream({ start: 0, autoClose: false, highWaterMark: 256 * 1024 }));
    const opened = await handle.stat();
    const temporary = await this.temporaryPath();
    try {
      await link(path, temporary);
    } catch {
      return copy();
    }
    const linked = await lstat(temporary);
    if (linked.ino !== opened.ino || linked.dev !== opened.dev) {
      await rm(temporary, { force: true });
      return copy();
    }
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of handle.createReadStream({ start: 0, autoClose: false, highWaterMark: 256 * 1024 }) as AsyncIterable<Buffer>) {
      hash.update(chunk);
      size += chunk.length;
    }
    return this.incoming(temporary, { size, sha256: hash.digest('hex') });
  }

  private incoming(temporary: string, stored: StoredFile): IncomingFile {
    let committed = false;
    return {
      stored,
      commit: async (key) => {
        const target = this.path(key);
        await mkdir(dirname(target), { recursive: true });
        await rename(temporary, target);
        committed = true;
      },
      discard: async () => {
        if (!committed) await rm(temporary, { force: true });
      },
    };
  }

  async sweep(): Promise<void> {
    const root = join(this.root, INCOMING);
    for (const tag of await readdir(root).catch(() => [] as string[])) {
      const match = /^(.*)-(\d+)-([0-9a-f-]{36})$/.exec(tag);
      if (!match || match[1] !== hostname() || tag === processTag) continue;
      const pid = Number(match[2]);
      if (pid === process.pid || !processAlive(pid)) await rm(join(root, tag), { recursive: true, force: true });
    }
  }

  async write(key: string, source: AsyncIterable<Uint8Array> | Readable): Promise<StoredFile> {
    const incoming = await this.receive(source);
    await incoming.commit(key);
    return incoming.stored;
  }

  /** Streams into `temporary`, synced to disk; removed again when the stream fails. */
  private async writeTo(temporary: string, source: AsyncIterable<Uint8Array> | Readable): Promise<StoredFile> {
    const hash = createHash('sha256');
    let size = 0;
    try {
      await pipeline(
        source,
        async function* (chunks: AsyncIterable<Uint8Array>) {
          for await (const chunk of chunks) {
            hash.update(chunk);
            size += chunk.length;
            yield chunk;
          }
        },
        createWriteStream(temporary),
      );
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
    await fsync(temporary);
    return { size, sha256: hash.digest('hex') };
  }

  async claim(key: string, path: string, { keepSource }: { keepSource: boolean }): Promise<StoredFile> {
    const target = this.path(key);
    await mkdir(dirname(target), { recursive: true });
    if (keepSource) {
      await copyFile(path, target);
      await fsync(target);
    } else {
      try {
        await rename(path, target);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
        await copyFile(path, target);
        await fsync(target);
        await unlink(path);
      }
    }
    return describeFile(target);
  }

  read(key: string): Readable {
    return createReadStream(this.path(key), { highWaterMark: 256 * 1024 });
  }

  async remove(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }

  async list(prefix: string): Promise<string[]> {
    const names = await readdir(this.path(prefix.replace(/\/$/, ''))).catch(() => [] as string[]);
    return names.filter((n) => !n.endsWith('.partial'));
  }
}

async function fsync(path: string) {
  const handle = await open(path, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function describeFile(path: string): Promise<StoredFile> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path, { highWaterMark: 256 * 1024 }), async (chunks: AsyncIterable<Buffer>) => {
    for await (const chunk of chunks) hash.update(chunk);
  });
  return { size: (await stat(path)).size, sha256: hash.digest('hex') };
}

/** Size and SHA-256 of an archived file, read back from the archive (to verify a copy). */
export async function describeStored(archive: Archive, key: string): Promise<StoredFile> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of archive.read(key) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { size, sha256: hash.digest('hex') };
}
