import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, S3Client, type _Object } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import type { Context } from '../context.js';
import { CONTROL_FILE_NAME } from '../core/control/controlFile.js';
import { isPlainFileName, isTemporaryName, namedFiles } from '../core/uploadSet.js';
import { listFeeds, type Feed } from '../feeds/feeds.service.js';
import { log } from '../log.js';
import { archiveKey, describeStored } from '../archive/archive.js';
import { receiveFile } from '../pipeline/receiving.js';

export interface S3Settings {
  endpoint?: string;
  region: string;
  forcePathStyle: boolean;
}

export function s3Client(settings: S3Settings): S3Client {
  return new S3Client({
    endpoint: settings.endpoint,
    region: settings.region,
    forcePathStyle: settings.forcePathStyle,
    // Checksums only where S3 requires them: S3-compatible servers do not all support the
    // newer default ones, and some corrupt streamed bodies with them.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** `s3://bucket/some/prefix/` → bucket and prefix (with a trailing slash). */
export function parseS3Url(url: string): { bucket: string; prefix: string } {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (!match) throw new Error(`"${url}" is not an s3://bucket/prefix/ URL`);
  const prefix = match[2] ?? '';
  return { bucket: match[1]!, prefix: prefix && !prefix.endsWith('/') ? `${prefix}/` : prefix };
}

/**
 * The S3 channel: `s3://bucket/<prefix>/<feed>/`. Objects are whole when they appear, so a set
 * is taken when its control file and every file it names are listed: each object is copied into
 * the run's archive, checked (size and SHA-256 of the archived copy), and only then deleted.
 */
export async function pollS3Inbox(ctx: Context, client: S3Client, feedInboxUrl: string, feed: Feed): Promise<number | null> {
  const { bucket, prefix } = parseS3Url(feedInboxUrl);
  const objects = new Map<string, _Object>();
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const object of page.Contents ?? []) {
      const name = object.Key!.slice(prefix.length);
      if (isPlainFileName(name) && !isTemporaryName(name)) objects.set(name, object);
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  if (!objects.has(CONTROL_FILE_NAME)) return null;

  const controlText = (await bodyBuffer(client, bucket, `${prefix}${CONTROL_FILE_NAME}`)).toString('utf8');
  const named = namedFiles(controlText) ?? [];
  const missing = named.filter((n) => !objects.has(n));
  if (missing.length) {
    log.info('S3 inbox: waiting for files', { feed: feed.slug, missing });
    return null;
  }
  let runId: number | null = null;
  for (const name of [...named.filter((n) => n !== CONTROL_FILE_NAME), CONTROL_FILE_NAME]) {
    const object = objects.get(name)!;
    const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: object.Key }));
    const { run, stored } = await receiveFile(ctx, feed, 's3', name, { stream: response.Body as Readable });
    runId = run.id;
    const archived = await describeStored(ctx.archive, archiveKey(feed.slug, run.id, name));
    if (archived.size !== object.Size || stored!.size !== object.Size || archived.sha256 !== stored!.sha256) {
      throw new Error(`s3://${bucket}/${object.Key}: the archived copy does not match the object; it stays in the inbox`);
    }
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: object.Key }));
  }
  return runId;
}

async function bodyBuffer(client: S3Client, bucket: string, key: string): Promise<Buffer> {
  const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return buffer(response.Body as Readable);
}

/** Every feed's S3 inbox: `S3_INBOX_URL` + the feed's slug. */
export async function pollAllS3Inboxes(ctx: Context): Promise<void> {
  if (!ctx.config.s3InboxUrl) return;
  const client = s3Client(ctx.config.s3);
  try {
    for (const feed of await listFeeds(ctx.database.knex)) {
      try {
        await pollS3Inbox(ctx, client, `${ctx.config.s3InboxUrl}${feed.slug}/`, feed);
      } catch (error) {
        log.error('S3 inbox poll failed', { feed: feed.slug, error: String((error as Error)?.message ?? error) });
      }
    }
  } finally {
    client.destroy();
  }
}
