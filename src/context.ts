import { hostname } from 'node:os';
import { join } from 'node:path';
import { LocalArchive, type Archive } from './archive/archive.js';
import { S3Archive } from './archive/s3Archive.js';
import { parseS3Url, s3Client } from './channels/s3Inbox.js';
import type { Config } from './config.js';
import { migrateLatest, openDatabase, type Database } from './storage/database.js';

/** What every service needs: the database, the archive, and who is doing the work. */
export interface Context {
  database: Database;
  archive: Archive;
  config: Config;
  /** Identifies this process in run leases. */
  workerId: string;
  /** How long a claimed run stays ours without a heartbeat. */
  leaseSeconds: number;
}

export async function openContext(config: Config, options: { migrate?: boolean } = {}): Promise<Context> {
  const database = openDatabase(config.databaseUrl);
  if (options.migrate ?? true) await migrateLatest(database);
  return {
    database,
    archive: config.archiveUrl ? s3ArchiveFor(config) : new LocalArchive(join(config.dataDir, 'archive')),
    config,
    workerId: `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`,
    leaseSeconds: Number(process.env.SLUICE_LEASE_SECONDS ?? 60),
  };
}

function s3ArchiveFor(config: Config): Archive {
  const { bucket, prefix } = parseS3Url(config.archiveUrl!);
  return new S3Archive(s3Client(config.s3), bucket, prefix);
}
