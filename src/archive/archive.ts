import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface StoredFile {
  size: number;
  sha256: string;
}

/**
 * Where a run's raw files live. Keys are `<feed>/<run id>/<file name>`. A local folder now; an
 * S3 bucket can implement the same four calls.
 */
export interface Archive {
  /** Streams bytes in, returning their size and SHA-256. */
  write(key: string, source: AsyncIterable<Uint8Array> | Readable): Promise<StoredFile>;
  /** Takes over a local file: a rename where possible, else copy, fsync and unlink. */
  claim(key: string, path: string, options: { keepSource: boolean }): Promise<StoredFile>;
  read(key: string): Readable;
  remove(key: string): Promise<void>;
  /** Names of the complete files stored under `<feed>/<run id>/`. */
  list(prefix: string): Promise<string[]>;
}

export const archiveKey = (feed: string, runId: number, name: string) => `${feed}/${runId}/${name}`;

export class LocalArchive implements Archive {
  constructor(private readonly root: string) {}

  private path(key: string): string {
    if (key.split('/').some((part) => part === '..' || part === '')) throw new Error(`unsafe archive key ${key}`);
    return join(this.root, key);
  }

  async write(key: string, source: AsyncIterable<Uint8Array> | Readable): Promise<StoredFile> {
    const target = this.path(key);
    await mkdir(dirname(target), { recursive: true });
    const hash = createHash('sha256');
    let size = 0;
    const temporary = `${target}.partial`;
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
    await rename(temporary, target);
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
