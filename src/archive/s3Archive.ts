import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { unlink, type FileHandle } from 'node:fs/promises';
import { PassThrough, type Readable } from 'node:stream';
import { CopyObjectCommand, DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { Archive, IncomingFile, StoredFile } from './archive.js';

/** Incoming objects older than this belong to a process that stopped before committing them. */
const STALE_INCOMING_MS = 24 * 3_600_000;

/**
 * The run archive in a bucket (`ARCHIVE_URL=s3://bucket/prefix/`): the same four calls as the
 * local folder. Uploads are multipart and streamed, so no file is held in memory.
 */
export class S3Archive implements Archive {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly prefix: string,
  ) {}

  async write(key: string, source: AsyncIterable<Uint8Array> | Readable): Promise<StoredFile> {
    const hash = createHash('sha256');
    let size = 0;
    const body = new PassThrough();
    const counting = (async () => {
      for await (const chunk of source) {
        hash.update(chunk);
        size += chunk.length;
        if (!body.write(chunk)) await new Promise((resolve) => body.once('drain', resolve));
      }
      body.end();
    })().catch((error: unknown) => {
      body.destroy(error as Error);
      throw error;
    });
    const upload = new Upload({ client: this.client, params: { Bucket: this.bucket, Key: this.prefix + key, Body: body }, queueSize: 2, partSize: 8 * 1024 * 1024 });
    await Promise.all([upload.done(), counting]);
    return { size, sha256: hash.digest('hex') };
  }

  async receive(source: AsyncIterable<Uint8Array> | Readable): Promise<IncomingFile> {
    const temporary = `.incoming/${randomUUID()}`;
    const stored = await this.write(temporary, source);
    let committed = false;
    return {
      stored,
      commit: async (key) => {
        await this.client.send(new CopyObjectCommand({ Bucket: this.bucket, Key: this.prefix + key, CopySource: `${this.bucket}/${encodeURI(this.prefix + temporary)}` }));
        committed = true;
        await this.remove(temporary);
      },
      discard: async () => {
        if (!committed) await this.remove(temporary);
      },
    };
  }

  receiveOpened(_path: string, handle: FileHandle): Promise<IncomingFile> {
    return this.receive(handle.createReadStream({ start: 0, autoClose: false }));
  }

  async sweep(): Promise<void> {
    const cutoff = Date.now() - STALE_INCOMING_MS;
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: `${this.prefix}.incoming/`, ContinuationToken: token }));
      for (const object of page.Contents ?? []) {
        if ((object.LastModified?.getTime() ?? 0) < cutoff) await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: object.Key }));
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async claim(key: string, path: string, { keepSource }: { keepSource: boolean }): Promise<StoredFile> {
    const stored = await this.write(key, createReadStream(path));
    if (!keepSource) await unlink(path);
    return stored;
  }

  read(key: string): Readable {
    const out = new PassThrough();
    this.client
      .send(new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }))
      .then((response) => {
        const body = response.Body as Readable;
        body.on('error', (error) => out.destroy(error));
        body.pipe(out);
      })
      .catch((error: unknown) => out.destroy(error as Error));
    return out;
  }

  async remove(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
  }

  async list(prefix: string): Promise<string[]> {
    const names: string[] = [];
    let token: string | undefined;
    const full = this.prefix + (prefix.endsWith('/') ? prefix : `${prefix}/`);
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: full, ContinuationToken: token }));
      for (const object of page.Contents ?? []) names.push(object.Key!.slice(full.length));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return names;
  }
}
