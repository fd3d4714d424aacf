import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ReadLimits } from './core/readers/types.js';
import { configInvalid } from './errors.js';

export interface Config {
  /** `sqlite:<path>` or `mysql://user:pass@host:port/db`. */
  databaseUrl: string;
  dataDir: string;
  port: number;
  publicUrl: string;
  /** The folder channel's root: one subfolder per feed. */
  inboxDir: string;
  /** How long a file's size and mtime must stay the same before it counts as arrived. */
  settleMs: number;
  /** An upload set still incomplete after this fails. */
  incompleteTimeoutMs: number;
  maxUploadBytes: number;
  /** `s3://bucket/prefix/`: each feed's S3 inbox is `<prefix><feed>/`. */
  s3InboxUrl: string | null;
  /** `s3://bucket/prefix/` keeps the run archive in a bucket instead of under the data folder. */
  archiveUrl: string | null;
  s3: { endpoint?: string; region: string; forcePathStyle: boolean };
  mail: {
    /** `smtp://user:pass@host:587` or `smtps://…:465`; none writes `.eml` files under the data folder. */
    smtpUrl: string | null;
    from: string;
    /** When the held-run digest goes out each day, UTC, as minutes after midnight. */
    digestAtMinutes: number;
    /** Runs held longer than this are listed in the digest. */
    digestHeldMs: number;
  };
  /** Encrypts pull credentials at rest (AES-256-GCM); null until SLUICE_SECRET_KEY is set. */
  secretKey: Buffer | null;
  /** Whether `serve` runs the scheduled jobs; off for instances that only serve HTTP and the inbox. */
  runJobs: boolean;
  /** Run executors a serving process runs side by side, as far as the database allows (SLUICE_EXECUTORS). */
  executors: number;
  /** Behind a reverse proxy: trust its X-Forwarded-Proto/-For (secure cookies, client address). */
  trustProxy: boolean;
  /** Largest field and record a data file may have (SLUICE_MAX_FIELD_KB, SLUICE_MAX_RECORD_KB). */
  readLimits: ReadLimits;
  /** The built-in SFTP endpoint: off (port null) unless SFTP_PORT is set. */
  sftp: {
    port: number | null;
    /** SFTP_HOST_KEY, else a key generated into the data folder on first start. */
    hostKeyPath: string | null;
    /** Connections at once (SFTP_MAX_CONNECTIONS); each holds a couple of MB while uploading. */
    maxConnections: number;
  };
}

/**
 * Reads and validates the environment once, at start. Every problem is listed at once, so an
 * operator fixes the whole configuration in one go.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  loadDotEnv(env);
  const problems: string[] = [];
  const dataDir = resolve(env.SLUICE_DATA_DIR || './data');
  const databaseUrl = env.DATABASE_URL || `sqlite:${resolve(dataDir, 'sluice.sqlite')}`;
  if (!/^(sqlite:|mysql:\/\/)/.test(databaseUrl)) {
    problems.push(`DATABASE_URL must start with "mysql://" or "sqlite:" (got "${redact(databaseUrl)}")`);
  } else if (databaseUrl.startsWith('mysql://')) {
    try {
      const url = new URL(databaseUrl);
      if (!url.pathname || url.pathname === '/') problems.push('DATABASE_URL must name a database, e.g. mysql://user:pass@host:3306/sluice');
    } catch {
      problems.push(`DATABASE_URL is not a valid URL (got "${redact(databaseUrl)}")`);
    }
  }
  const port = Number(env.PORT ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) problems.push(`PORT must be a port number (got "${env.PORT}")`);
  const publicUrl = env.PUBLIC_URL || `http://localhost:${port}`;
  try {
    new URL(publicUrl);
  } catch {
    problems.push(`PUBLIC_URL must be an absolute URL (got "${publicUrl}")`);
  }
  const number = (name: string, fallback: number, min = 0) => {
    const text = env[name];
    if (text === undefined || text === '') return fallback;
    const value = Number(text);
    if (!Number.isFinite(value) || value < min) problems.push(`${name} must be a number ≥ ${min} (got "${text}")`);
    return value;
  };
  const settleMs = number('SLUICE_SETTLE_SECONDS', 5) * 1000;
  const executors = Math.floor(number('SLUICE_EXECUTORS', 2, 1));
  const incompleteTimeoutMs = number('SLUICE_INCOMPLETE_TIMEOUT_HOURS', 24) * 3_600_000;
  const maxUploadBytes = number('SLUICE_MAX_UPLOAD_MB', 2048, 1) * 1024 * 1024;
  const s3InboxUrl = env.S3_INBOX_URL || null;
  if (s3InboxUrl && !/^s3:\/\/[^/]+/.test(s3InboxUrl)) problems.push(`S3_INBOX_URL must look like s3://bucket/prefix/ (got "${s3InboxUrl}")`);
  const archiveUrl = env.ARCHIVE_URL || null;
  if (archiveUrl && !/^s3:\/\/[^/]+/.test(archiveUrl)) problems.push(`ARCHIVE_URL must look like s3://bucket/prefix/ (got "${archiveUrl}")`);
  if (env.S3_ENDPOINT) {
    try {
      new URL(env.S3_ENDPOINT);
    } catch {
      problems.push(`S3_ENDPOINT must be a URL (got "${env.S3_ENDPOINT}")`);
    }
  }
  const smtpUrl = env.SMTP_URL || null;
  if (smtpUrl && !/^smtps?:\/\/[^/]+/.test(smtpUrl)) problems.push(`SMTP_URL must look like smtp://user:pass@host:587 or smtps://… (got "${redact(smtpUrl)}")`);
  const digestAt = /^(\d{1,2}):(\d{2})$/.exec(env.SLUICE_DIGEST_AT || '08:00');
  if (!digestAt || Number(digestAt[1]) > 23 || Number(digestAt[2]) > 59) problems.push(`SLUICE_DIGEST_AT must be a time of day like 08:00 (UTC) (got "${env.SLUICE_DIGEST_AT}")`);
  const digestHeldHours = number('SLUICE_DIGEST_HELD_HOURS', 24);
  const maxFieldKb = number('SLUICE_MAX_FIELD_KB', 64, 1);
  const maxRecordKb = number('SLUICE_MAX_RECORD_KB', 1024, 1);
  if (maxRecordKb < maxFieldKb) problems.push(`SLUICE_MAX_RECORD_KB (${maxRecordKb}) must be at least SLUICE_MAX_FIELD_KB (${maxFieldKb})`);
  const sftpPortText = (env.SFTP_PORT ?? '').trim();
  const sftpPort = sftpPortText === '' || /^off$/i.test(sftpPortText) ? null : Number(sftpPortText);
  if (sftpPort !== null && (!Number.isInteger(sftpPort) || sftpPort < 0 || sftpPort > 65535)) problems.push(`SFTP_PORT must be a port number, or "off" (got "${env.SFTP_PORT}")`);
  const sftpHostKey = env.SFTP_HOST_KEY ? resolve(env.SFTP_HOST_KEY) : null;
  if (sftpHostKey && !existsSync(sftpHostKey)) problems.push(`SFTP_HOST_KEY names ${sftpHostKey}, which does not exist (leave it unset to have a key generated into the data folder)`);
  const sftpMaxConnections = number('SFTP_MAX_CONNECTIONS', 50, 1);
  let secretKey: Buffer | null = null;
  if (env.SLUICE_SECRET_KEY) {
    const text = env.SLUICE_SECRET_KEY.trim();
    secretKey = /^[0-9a-f]{64}$/i.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
    if (secretKey.length !== 32) problems.push('SLUICE_SECRET_KEY must be 32 random bytes in base64 or hex (make one with: openssl rand -base64 32)');
  }
  let mailFrom = env.MAIL_FROM || '';
  if (!mailFrom) {
    try {
      mailFrom = `Sluice <sluice@${new URL(publicUrl).hostname}>`;
    } catch {
      /* PUBLIC_URL is reported above */
    }
  }
  if (problems.length) throw configInvalid(problems);
  return {
    databaseUrl,
    dataDir,
    port,
    publicUrl,
    inboxDir: resolve(env.SLUICE_INBOX_DIR || resolve(dataDir, 'inbox')),
    settleMs,
    incompleteTimeoutMs,
    maxUploadBytes,
    s3InboxUrl: s3InboxUrl && !s3InboxUrl.endsWith('/') ? `${s3InboxUrl}/` : s3InboxUrl,
    archiveUrl,
    mail: {
      smtpUrl,
      from: mailFrom,
      digestAtMinutes: Number(digestAt![1]) * 60 + Number(digestAt![2]),
      digestHeldMs: digestHeldHours * 3_600_000,
    },
    secretKey,
    runJobs: !/^(0|false|no|off)$/i.test(env.SLUICE_JOBS ?? ''),
    executors,
    trustProxy: /^(1|true|yes)$/i.test(env.SLUICE_TRUST_PROXY ?? ''),
    sftp: { port: sftpPort, hostKeyPath: sftpHostKey, maxConnections: Math.floor(sftpMaxConnections) },
    readLimits: { maxFieldChars: Math.floor(maxFieldKb * 1024), maxRecordChars: Math.floor(maxRecordKb * 1024) },
    s3: { endpoint: env.S3_ENDPOINT || undefined, region: env.S3_REGION || env.AWS_REGION || 'us-east-1', forcePathStyle: /^(1|true|yes)$/i.test(env.S3_FORCE_PATH_STYLE ?? (env.S3_ENDPOINT ? 'true' : 'false')) },
  };
}

function loadDotEnv(env: NodeJS.ProcessEnv) {
  if (env !== process.env || !existsSync('.env')) return;
  process.loadEnvFile('.env');
}

export function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):([^@]*)@/, '//$1:***@');
}
