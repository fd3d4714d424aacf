import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, S3Client, type _Object } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import type { Context } from '../context.js';
import { CONTROL_FILE_NAME } from '../core/control/controlFile.js';
import { fileNameProblem, isTemporaryName } from '../core/fileNames.js';
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
 * The S3 channel: `s3://bucket/<prefix>/<feed>/`. Objects are whole when they appear, so every
 * listed object joins the feed's open set at once, as a file does in the folder and over HTTP —
 * named by the control file or not (an extra file then fails the set in validation instead of
 * lying in the bucket forever). The control file goes last. Each object is copied into the
 * run's archive, checked (size and SHA-256 of the archived copy), and only then deleted.
 */
export async function pollS3Inbox(ctx: Context, client: S3Client, feedInboxUrl: string, feed: Feed): Promise<number | null> {
  const { bucket, prefix } = parseS3Url(feedInboxUrl);
  const objects = new Map<string, _Object>();
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const object of page.Contents ?? []) {
      const name = object.Key!.slice(prefix.length);
      if (name.includes('/') || isTemporaryName(name)) continue;
      const problem = fileNameProblem(name);
      if (problem) log.warn('S3 inbox: an object has a name no control file can list; it is left there', { feed: feed.slug, key: object.Key, problem });
      else objects.set(name, object);
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);

  let runId: number | null = null;
  const names = [...objects.keys()].filter((n) => n !== CONTROL_FILE_NAME).sort();
  if (objects.has(CONTROL_FILE_NAME)) names.push(CONTROL_FILE_NAME);
  for (const name of names) {
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
